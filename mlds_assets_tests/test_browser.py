"""Headless Chromium opens the HTML report and the API's docs page and finds the charts and numbers they
should show. Screenshots are saved under test-artifacts/ (kept by CI as artefacts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.api_load import running_api
from mlds_assets.core.analytics import value
from mlds_assets_tests.system_packages import missing

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("MLDS_TEST_ARTIFACTS", REPO / "test-artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (`make system-deps` installs it)."""
    return shutil.which("chromium") or missing("chromium", "chromium")


def browse(chromium: str, url: str, screenshot: Path, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran, and a full-page screenshot."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1280,2400", url],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    return dom.stdout


def test_the_report_shows_its_charts_and_the_numbers_of_the_metrics(chromium, demo_settings, tmp_path):
    report = sorted(demo_settings.reports_dir.glob("*/report.html"))[-1]
    dom = browse(chromium, report.resolve().as_uri(), ARTIFACTS / "report.png", tmp_path)

    assert len(re.findall(r"<svg[^>]*class=\"chart\"", dom)) >= 6
    for title in ("Posts per platform", "Sentiment distribution", "Share of voice, all platforms", "Posts per day"):
        assert f'aria-label="{title}"' in dom
    cross = pd.read_parquet(Path(demo_settings.lake_base) / "cross_platform" / "cross_platform_metrics.parquet")
    assert f"{value(cross, 'posts'):,.0f}" in dom  # the total in the summary table
    for platform in demo_settings.platforms:
        metrics = pd.read_parquet(Path(demo_settings.lake_base) / platform / "platform_metrics.parquet")
        row = re.search(rf'<tr data-scope="{platform}">(.*?)</tr>', dom).group(1)
        assert f"<td>{value(metrics, 'posts'):,.0f}</td>" in row and "full" in row
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_the_api_docs_page_renders_every_route(chromium, demo_settings, tmp_path):
    with running_api(demo_settings) as url:
        dom = browse(chromium, f"{url}/docs", ARTIFACTS / "api-docs.png", tmp_path)
    assert "MLDS read API" in dom
    for route in ("/platforms", "/metrics/{platform}", "/metrics/cross-platform", "/posts/search", "/backlog"):
        assert route in dom, route
    assert (ARTIFACTS / "api-docs.png").stat().st_size > 10_000
