"""Shared fixtures: a fresh MLDS_HOME and real Dagster instance per test, and the real datasets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from dagster import instance_for_test

from mlds_assets.settings import DEFAULT_CONFIG_DIR, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped config, for tests that add a platform or change a key."""
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, config_dir: Path) -> Settings:
    return load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})


@pytest.fixture
def instance(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (or MLDS_SHARED_DATA); skipped with the reason where absent."""
    candidates = [os.environ.get("MLDS_SHARED_DATA"), REPO.parent / "shared" / "data", REPO / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    pytest.skip("real datasets not found: ../shared/data is absent in this clone (set MLDS_SHARED_DATA to run these)")


def write_platform(config_dir: Path, name: str, body: str) -> None:
    (config_dir / "platforms" / f"{name}.yaml").write_text(body)


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    from mlds_assets_tests.tiny_models import build_tiny_transformer

    return build_tiny_transformer(tmp_path_factory.mktemp("tiny-sentiment-model"))


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    """One `mlds demo` (all three phases, 100 posts per platform) shared by the analytics, API and browser
    tests, which only read what it wrote."""
    from mlds_assets.service.reports import demo

    home = tmp_path_factory.mktemp("demo") / "home"
    settings = load_settings(env={"MLDS_HOME": str(home)})
    report = demo(settings, posts_per_platform=100)
    assert "DAGSTER_HOME" not in os.environ or os.environ["DAGSTER_HOME"] != str(settings.dagster_home)
    assert report["analytics"]["status"] != "failed", report["analytics"]
    return settings


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """One generated Facebook export of 120 clean posts."""
    from mlds_assets.demo.exports import generate_facebook_csv

    return generate_facebook_csv(tmp_path / "facebook_export.csv", 120, dirty=False).path
