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


def test_the_code_server_and_every_run_pod_share_mlds_home():
    """Until inbox, landing and models resolve through UPath like the lake, the pod that lands a file (the
    code server evaluates the inbox sensor) and the run pod that reads it must see one MLDS_HOME."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    home = {item["name"]: item["value"] for item in deployment["env"]}["MLDS_HOME"]
    claim = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]}
    mounted = {m["mountPath"]: m["name"] for m in deployment["volumeMounts"]}
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    run_claim = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in run_pod["podSpecConfig"]["volumes"]}
    run_mounted = {m["mountPath"]: m["name"] for m in run_pod["containerConfig"]["volumeMounts"]}
    assert claim[mounted[home]] == run_claim[run_mounted[home]]


def test_the_image_serves_the_code_location_with_a_cpu_torch():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "download.pytorch.org/whl/cpu" in dockerfile
    assert '"-m", "mlds_assets.definitions"' in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile
