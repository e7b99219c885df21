"""Run `mlds` in a subprocess that SIGKILLs itself at a chosen call: a crash with no chance to clean up,
where the test wants it. `python -m mlds_assets_tests.fault_hooks MODULE:FUNCTION N -- <mlds args>` kills
the process on the N-th call of MODULE.FUNCTION (patched where the asset module looks it up).
`... MODULE:FUNCTION hold FOLDER -- <mlds args>` instead holds the first call: it writes FOLDER/held and
waits until the test writes FOLDER/release, so that a test can act while a run is mid-way."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from pathlib import Path


def hold(target: str, folder: Path) -> None:
    module_name, function_name = target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, function_name)

    def held(*args, **kwargs):
        (folder / "held").write_text(str(os.getpid()))
        deadline = time.monotonic() + 300
        while not (folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(module, function_name, held)


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
    if sys.argv[2] == "hold":
        target, _, folder, separator, *mlds_args = sys.argv[1:]
        hold(target, Path(folder))
    else:
        target, on_call, separator, *mlds_args = sys.argv[1:]
        arm(target, int(on_call))
    assert separator == "--", "usage: MODULE:FUNCTION N|hold FOLDER -- <mlds args>"
    from mlds_assets.cli import main

    sys.exit(main(mlds_args))
