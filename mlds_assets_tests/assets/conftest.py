"""Fixtures for the phase-2 asset tests: one generated Facebook export of 120 clean posts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlds_assets.core.demo_data import generate_facebook_csv


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return generate_facebook_csv(tmp_path / "facebook_export.csv", 120, dirty=False).path
