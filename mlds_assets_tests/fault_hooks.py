"""Run `mlds` in a subprocess that SIGKILLs itself at a chosen call: a crash with no chance to clean up,
where the test wants it. `python -m mlds_assets_tests.fault_hooks MODULE:FUNCTION N -- <mlds args>` kills
the process on the N-th call of MODULE.FUNCTION (patched where the asset module looks it up)."""

from __future__ import annotations

import importlib
import os
import signal
import sys


def arm(target: str, on_call: int) -> None:
    module_name, function_name = target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, function_name)
    calls = 0

    def dying(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == on_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(module, function_name, dying)


if __name__ == "__main__":
    target, on_call, separator, *mlds_args = sys.argv[1:]
    assert separator == "--", "usage: MODULE:FUNCTION N -- <mlds args>"
    arm(target, int(on_call))
    from mlds_assets.cli import main

    sys.exit(main(mlds_args))
