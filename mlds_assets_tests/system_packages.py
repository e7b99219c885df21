"""Debian packages some tests need (Chromium, PostgreSQL), installed by the test setup where missing:
as root, with apt-get; otherwise the test is skipped, naming what is missing and why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def apt_install(package: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{package} is not installed and cannot be here: apt-get install {package} needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"{package} could not be installed: {' '.join(command)}: {done.stderr[-300:]}")
