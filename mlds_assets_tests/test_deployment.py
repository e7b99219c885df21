"""The multi-machine deployment in deploy/: its MLDS settings (environment overrides in the Helm values)
load and validate, and the chart values keep the run queue's one-run-per-batch limit."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlds_assets.settings import load_settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_the_helm_values_configure_mlds_for_s3_weaviate_and_kubernetes_runs():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "mlds_assets.definitions"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    settings = load_settings(env=env)  # the same validation a pod does at start-up
    assert settings.lake_base.startswith("s3://") and settings.store.backend == "weaviate"
    assert settings.store.weaviate.host.endswith(".svc.cluster.local")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert not any("KEY" in name or "PASSWORD" in name for name in env)  # secrets come from mlds-secrets


def test_every_piece_of_shared_state_is_on_object_storage_and_no_pod_needs_a_shared_volume():
    """The pod that lands a file, the run pods that read it and `mlds` anywhere find inbox, landing area, lake
    (with its checkpoints), models, topic models and reports through the same S3 URLs; MLDS_HOME is scratch,
    so no volume is mounted for it (test_object_storage proves the paths on moto's S3 server)."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    settings = load_settings(env={item["name"]: item["value"] for item in deployment["env"]})
    shared = [settings.inbox_dir, settings.landing_dir, settings.models_dir, settings.reports_dir]
    assert all(str(place).startswith("s3://") for place in shared), shared
    assert settings.lake_base.startswith("s3://")
    assert "volumes" not in deployment and "volumeMounts" not in deployment
    assert "volumeMounts" not in values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]


def test_the_image_serves_the_code_location_with_a_cpu_torch():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "download.pytorch.org/whl/cpu" in dockerfile
    assert '"-m", "mlds_assets.definitions"' in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile
