"""The post store resource: built from settings, with the Weaviate key as a dagster.EnvVar (its name in the
config the UI shows, the value only when a run initialises the resource)."""

from __future__ import annotations

import pytest
from dagster import EnvVar

from mlds_assets.definitions import build_definitions
from mlds_assets.resources import PostStoreResource
from mlds_assets.settings import load_settings
from mlds_assets.store.lancedb_store import LanceDBPostStore


def weaviate_settings(tmp_path, config_dir, mode: str, env: dict[str, str]):
    overrides = {"MLDS_HOME": str(tmp_path / "home"), "MLDS__STORE__BACKEND": "weaviate"}
    overrides |= {"MLDS__STORE__WEAVIATE__MODE": mode, "MLDS__STORE__WEAVIATE__API_KEY_ENV": "TEAM_WEAVIATE_KEY"}
    return load_settings(config_dir, env={**overrides, **env})


def test_the_weaviate_key_is_an_env_var_named_by_config_and_read_when_a_run_starts(tmp_path, config_dir, monkeypatch):
    settings = weaviate_settings(tmp_path, config_dir, "cloud", {})
    resource = build_definitions(settings).resources["post_store"]
    key = resource.weaviate.api_key
    assert isinstance(key, EnvVar) and key.env_var_name == "TEAM_WEAVIATE_KEY"  # the name, never a value

    monkeypatch.setenv("TEAM_WEAVIATE_KEY", "s3cret")
    with resource.process_config_and_initialize_cm() as initialised:
        assert initialised.weaviate.api_key == "s3cret"

    monkeypatch.delenv("TEAM_WEAVIATE_KEY")
    with pytest.raises(Exception, match="TEAM_WEAVIATE_KEY"):  # a cloud cluster needs it: the run says which
        resource.process_config_and_initialize()


def test_a_local_weaviate_without_the_variable_needs_no_key_and_lancedb_none_at_all(tmp_path, config_dir):
    local = PostStoreResource.from_settings(weaviate_settings(tmp_path, config_dir, "local", {}))
    assert local.weaviate.api_key is None
    settings = load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})
    lancedb = PostStoreResource.from_settings(settings)
    assert lancedb.weaviate.api_key is None and lancedb.uri == settings.store_uri
    assert isinstance(lancedb.get_store(), LanceDBPostStore)
