"""Settings: the shipped config loads; env overrides apply; every mistake names its file (or variable) and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlds_assets.settings import DEFAULT_CONFIG_DIR, ConfigError, PlatformConfig, Settings, load_settings

SHIPPED = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_default_config_dir_is_the_shipped_one():
    assert DEFAULT_CONFIG_DIR.resolve() == SHIPPED.resolve()


def test_shipped_config_loads_four_platforms():
    settings = load_settings(SHIPPED, env={})
    assert isinstance(settings, Settings)
    assert sorted(settings.platforms) == ["customer_care", "facebook", "instagram", "tiktok"]
    assert all(isinstance(p, PlatformConfig) for p in settings.platforms.values())
    assert settings.platform("tiktok").formats == ("jsonl",)
    assert settings.platform("instagram").read.records_path == "data"
    assert settings.config_dir == SHIPPED.resolve()


def test_dot_path_get():
    settings = load_settings(SHIPPED, env={})
    assert settings.get("processing.batch_size") == 5000
    assert settings.get("entities.confidence_threshold") == 0.8
    assert settings.get("entities.confidence.alias_other_case") == 0.7
    assert settings.get("platforms.facebook.created_at.timezone") == "-05:00"
    assert settings.get("platforms.facebook.fields.text") == ["status_message", "link_name"]
    for missing in ("processing.nope", "platforms.myspace", "processing.batch_size.deeper", "nope"):
        with pytest.raises(KeyError):
            settings.get(missing)


def test_env_overrides_global_key_and_platform_key():
    env = {"MLDS__PROCESSING__BATCH_SIZE": "2000", "MLDS__PLATFORMS__FACEBOOK__PROCESSING_MODE": "full"}
    settings = load_settings(SHIPPED, env=env)
    assert settings.processing.batch_size == 2000
    assert settings.get("processing.batch_size") == 2000
    assert settings.mode_for("facebook") == "full"
    assert settings.mode_for("tiktok") == "fast"  # other platforms untouched
    plain = load_settings(SHIPPED, env={})
    assert plain.processing.batch_size == 5000
    assert plain.mode_for("facebook") == "fast"


def test_env_override_with_wrong_type_names_the_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(SHIPPED, env={"MLDS__PROCESSING__BATCH_SIZE": "lots"})
    assert "MLDS__PROCESSING__BATCH_SIZE" in str(err.value)
    assert "processing.batch_size" in str(err.value)


def test_env_override_of_unknown_platform_is_an_error_not_ignored():
    with pytest.raises(ConfigError) as err:
        load_settings(SHIPPED, env={"MLDS__PLATFORMS__FACEBOK__PROCESSING_MODE": "full"})
    assert "MLDS__PLATFORMS__FACEBOK__PROCESSING_MODE" in str(err.value)
    assert "facebook" in str(err.value)  # lists the known ones


def test_wrong_key_in_global_yaml_names_file_and_dotted_key(cfg: Path):
    edit(cfg / "global.yaml", "  batch_size: 5000", "  batch_sise: 3")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    message = str(err.value)
    assert str(cfg / "global.yaml") in message
    assert "processing.batch_sise" in message
    assert "unknown key" in message


def test_wrong_type_in_global_yaml_names_file_and_dotted_key(cfg: Path):
    edit(cfg / "global.yaml", "  confidence_threshold: 0.8", "  confidence_threshold: high")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert str(cfg / "global.yaml") in str(err.value)
    assert "entities.confidence_threshold" in str(err.value)


def test_file_error_is_not_blamed_on_an_unrelated_env_override(cfg: Path):
    edit(cfg / "global.yaml", "  default_mode: fast", "  default_mod: fast")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={"MLDS__PROCESSING__BATCH_SIZE": "2000"})
    assert str(cfg / "global.yaml") in str(err.value)
    assert "processing.default_mod" in str(err.value)
    assert "MLDS__PROCESSING__BATCH_SIZE" not in str(err.value)


def test_wrong_key_in_platform_yaml_names_that_file(cfg: Path):
    edit(cfg / "platforms" / "tiktok.yaml", "  format: epoch_s", "  formatt: epoch_s")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert str(cfg / "platforms" / "tiktok.yaml") in str(err.value)
    assert "created_at.formatt" in str(err.value)


def test_platform_required_field_without_column_names_that_file(cfg: Path):
    edit(cfg / "platforms" / "facebook.yaml", "  created_at: status_published\n", "")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    message = str(err.value)
    assert str(cfg / "platforms" / "facebook.yaml") in message
    assert "created_at" in message and "no column" in message


def test_platform_name_must_match_file_name(cfg: Path):
    edit(cfg / "platforms" / "tiktok.yaml", "name: tiktok", "name: douyin")
    with pytest.raises(ConfigError, match=r"tiktok\.yaml"):
        load_settings(cfg, env={})


def test_mlds_home_wins_over_yaml_home(cfg: Path, tmp_path: Path):
    home = tmp_path / "somewhere" / "home"
    settings = load_settings(cfg, env={"MLDS_HOME": str(home)})
    assert settings.home == home.resolve()
    assert settings.inbox_dir == home.resolve() / "inbox"
    assert settings.lake_base == str(home.resolve() / "lake")
    # without MLDS_HOME the YAML value (./var) is used, resolved to an absolute path
    assert load_settings(cfg, env={}).home == Path("./var").resolve()


def test_yaml_python_object_tag_is_rejected(cfg: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    (cfg / "global.yaml").write_text(
        f"home: !!python/object/apply:os.system ['touch {marker}']\nprocessing:\n  batch_size: 10\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert str(cfg / "global.yaml") in str(err.value)
    assert not marker.exists()


def test_yaml_python_tag_in_platform_file_is_rejected(cfg: Path):
    (cfg / "platforms" / "evil.yaml").write_text("name: !!python/object/apply:os.getcwd []\nfields: {}\n")
    with pytest.raises(ConfigError, match=r"evil\.yaml"):
        load_settings(cfg, env={})


def test_missing_global_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"global\.yaml"):
        load_settings(tmp_path, env={})


# --- values that used to pass load and crash every run (issue 15) ----------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "key", "reason"),
    [
        ("MLDS__INGESTION__MAX_FILE_MB", ".inf", "ingestion.max_file_mb", "finite number"),
        ("MLDS__INGESTION__MAX_TEXT_LENGTH", ".nan", "ingestion.max_text_length", ""),
        ("MLDS__INGESTION__EARLIEST_CREATED_AT", "garbage", "ingestion.earliest_created_at", "not an ISO date"),
        ("MLDS__INGESTION__FUTURE_TOLERANCE_HOURS", "1e300", "ingestion.future_tolerance_hours", "less than"),
        ("MLDS__STORE__TABLE", "../elsewhere", "store.table", "pattern"),
        ("MLDS__STORE__WEAVIATE__GRPC_PORT", "8080", "store.weaviate", "port and grpc_port must differ"),
    ],
)
def test_a_value_that_would_crash_every_run_is_refused_at_load_naming_the_variable(variable, value, key, reason):
    with pytest.raises(ConfigError) as raised:
        load_settings(SHIPPED, env={variable: value})
    message = str(raised.value)
    assert message.startswith(f"environment {variable}: {key}"), message
    assert reason in message


def test_an_unknown_time_zone_names_the_platform_file_and_key(cfg: Path):
    (cfg / "platforms" / "corpus.yaml").write_text(
        "name: corpus\nfields: {native_id: id, text: text, created_at: t}\ncreated_at: {timezone: Mars/Olympus}\n"
    )
    with pytest.raises(ConfigError, match=r"corpus\.yaml: created_at\.timezone: .*'Mars/Olympus' is neither"):
        load_settings(cfg, env={})


def test_renaming_a_platform_from_the_environment_is_refused(cfg: Path):
    with pytest.raises(ConfigError, match=r"environment MLDS__PLATFORMS__TIKTOK__NAME: platforms\.tiktok\.name"):
        load_settings(cfg, env={"MLDS__PLATFORMS__TIKTOK__NAME": "facebook"})


def test_an_empty_key_in_a_variable_is_blamed_on_the_variable(cfg: Path):
    with pytest.raises(ConfigError, match=r"^environment MLDS____X: an empty key"):
        load_settings(cfg, env={"MLDS____X": "1"})


def test_an_unknown_section_from_the_environment_is_blamed_on_the_variable(cfg: Path):
    with pytest.raises(ConfigError, match=r"^environment MLDS__NOPE__X: nope: unknown key"):
        load_settings(cfg, env={"MLDS__NOPE__X": "1"})


def test_fixed_offsets_and_iana_zones_still_load(cfg: Path):
    settings = load_settings(cfg, env={"MLDS__PLATFORMS__FACEBOOK__CREATED_AT__TIMEZONE": "-05:00"})
    assert settings.platform("facebook").created_at.timezone == "-05:00"
