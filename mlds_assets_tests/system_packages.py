"""Debian packages some tests need (Chromium, PostgreSQL). `make system-deps` installs them (CI calls it
before `make test`); a test never installs anything, and is skipped, naming what is missing, where absent."""

from __future__ import annotations

import pytest


def missing(package: str, what: str) -> None:
    pytest.skip(f"{what} not found: the Debian package {package} is not installed (run `make system-deps` as root)")
