"""The settings check between `mlds` and the run worker of a run it launched, as plain functions. That a
launched run refuses other settings is shown on the launched path in assets/test_sentiment.py."""

from __future__ import annotations

import json
import shutil

from mlds_assets.launch_settings import launch_mismatch, launch_tag
from mlds_assets.settings import DEFAULT_CONFIG_DIR, load_settings

DAEMON_CADENCE = {
    "MLDS__INGESTION__SENSOR_INTERVAL_SECONDS": "2", "MLDS__INGESTION__SETTLE_SECONDS": "2",
    "MLDS__CONCURRENCY__AUTOMATION_INTERVAL_SECONDS": "2", "MLDS__CONCURRENCY__DEAD_RUN_CHECK_SECONDS": "2",
}  # fmt: skip


def test_another_home_config_folder_launch_setting_or_daemon_cadence_is_the_same_settings(tmp_path):
    """A laptop launching onto a cluster: other MLDS_HOME, another checkout of the same config, its own
    webserver URL; the cluster's daemon ticks faster. The run goes ahead."""
    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "checkout")
    laptop = load_settings(
        tmp_path / "checkout",
        env={"MLDS_HOME": str(tmp_path / "laptop"), "MLDS__RUNS__WEBSERVER_URL": "http://mlds:3000",
             "MLDS__INSTANCE_DIR": str(tmp_path / "instance")},
    )  # fmt: skip
    cluster = load_settings(env={"MLDS_HOME": str(tmp_path / "pod"), **DAEMON_CADENCE})
    assert launch_mismatch(launch_tag(laptop), cluster) is None


def test_an_override_the_run_worker_lacks_names_the_section_and_both_sides_variables(tmp_path):
    shell = load_settings(env={"MLDS_HOME": str(tmp_path), "MLDS__SENTIMENT__MODEL_VERSION": "2"})
    worker = load_settings(env={"MLDS_HOME": str(tmp_path), **DAEMON_CADENCE})
    reason = launch_mismatch(launch_tag(shell), worker)
    assert reason is not None
    assert "other settings than this run worker in: sentiment." in reason
    assert "It had MLDS__SENTIMENT__MODEL_VERSION set" in reason
    assert "MLDS__INGESTION__SETTLE_SECONDS" in reason  # what the worker has
    assert "MLDS__RUNS__LAUNCH=in_process" in reason  # the way out


def test_a_platform_changed_on_one_side_only_is_named_by_platform(tmp_path):
    home = {"MLDS_HOME": str(tmp_path)}
    shell = load_settings(env={**home, "MLDS__PLATFORMS__TIKTOK__PROCESSING_MODE": "full"})
    reason = launch_mismatch(launch_tag(shell), load_settings(env=home))
    assert reason is not None
    assert "in: platforms.tiktok." in reason and "has no MLDS__ variable set" in reason


def test_the_tag_carries_variable_names_never_their_values(tmp_path):
    shell = load_settings(env={"MLDS_HOME": str(tmp_path), "MLDS__STORE__URI": "/secret/place"})
    tag = json.loads(launch_tag(shell))
    assert tag["env"] == ["MLDS__STORE__URI"]
    assert "/secret/place" not in launch_tag(shell)
