"""Shared fixtures: a fresh MLDS_HOME and real Dagster instance per test, the real datasets, and one `mlds
demo` for the tests that read what it wrote. Also how `make test`'s two pytest-xdist workers share the
suite out (at the end)."""

from __future__ import annotations

import io
import os
import shutil
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass
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
def settings_env(request, tmp_path: Path) -> dict:
    """The environment `settings` are loaded with: this test's MLDS_HOME; for a test marked `launched`, also
    its `dagster dev`, which every `mlds` run is sent to (`runs.launch: webserver`)."""
    env = {"MLDS_HOME": str(tmp_path / "home")}
    if request.node.get_closest_marker("launched"):
        server = request.getfixturevalue("dev_server")
        env |= {"MLDS__RUNS__LAUNCH": "webserver", "MLDS__RUNS__WEBSERVER_URL": server.url}
    return env


@pytest.fixture
def settings(reload_settings) -> Settings:
    """This test's MLDS_HOME over a copy of the shipped config. A test marked `launched` gets a `dagster dev`
    of its own over them, and settings that send every `mlds` run to it (`runs.launch: webserver`)."""
    return reload_settings()


@pytest.fixture
def reload_settings(config_dir: Path, settings_env: dict):
    """The test's settings loaded again, after it changed its config files. A change meant for the runs goes
    into the files (`set_config`), not the environment: a launched run's worker loads the code location
    afresh, reading the config directory `dagster dev` was started with."""
    return lambda: load_settings(config_dir, env=settings_env)


@pytest.fixture
def instance(request, tmp_path: Path):
    """A real instance of the test's own; for a test marked `launched`, its `dagster dev`'s instance."""
    if request.node.get_closest_marker("launched"):
        launched = request.getfixturevalue("dev_server").instance()
        yield launched
        launched.dispose()
        return
    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


@pytest.fixture
def settle(request, instance):
    """Wait for what the automation conditions request after a run (resolution, the store re-sync, metrics
    after sentiment). `mlds` runs it itself on the in-process path, before it returns; on the launched path
    the daemon's automation sensor launches it after `mlds` returns, so a launched test waits for the daemon
    to settle."""
    if not request.node.get_closest_marker("launched"):
        return lambda: None
    server = request.getfixturevalue("dev_server")
    return lambda: server.wait_settled(instance)


@pytest.fixture(scope="session")
def dev_server_stops():
    """Launched tests' `dagster dev`s stop in the background (SIGTERM to the group, then wait: seconds each)
    while the next test runs; the session ends once all are gone (SIGKILL to a group still up after 90 s)."""
    from mlds_assets.devserver import BackgroundStops

    stops = BackgroundStops()
    yield stops
    killed = stops.join()
    if killed:  # as the blocking stop does after its grace: no test depends on it, but say so
        warnings.warn(f"dagster dev process groups SIGKILLed at the end of the session: {killed}", stacklevel=1)


@pytest.fixture
def dev_server(tmp_path: Path, config_dir: Path, dev_server_stops):
    """`make dev` (webserver, daemon, code server) over this test's MLDS_HOME and config: what users run.
    Runs go the UI's way: GraphQL, the run queue, the daemon's launcher, a run worker process of their own.
    Stopped in the background after the test (`dev_server_stops`)."""
    from mlds_assets.devserver import dagster_dev

    with dagster_dev(tmp_path, {"MLDS_CONFIG": str(config_dir)}, stop=dev_server_stops) as server:
        yield server


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


def set_config(config_dir: Path, dotted: str, value, file: str = "global.yaml") -> None:
    """Set one key (`sentiment.model_version`) in a config file of the test's copy, as an `MLDS__` override
    sets it (`settings._set_path`), but in the file: what a launched run's worker reads."""
    import yaml

    from mlds_assets.settings import _read_yaml, _set_path

    path = config_dir / file
    config = _read_yaml(path)
    _set_path(config, dotted.split("."), value)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    from mlds_assets_tests.tiny_models import build_tiny_transformer

    return build_tiny_transformer(tmp_path_factory.mktemp("tiny-sentiment-model"))


DEMO_POSTS = 100


@dataclass
class DemoRun:
    settings: Settings
    printed: str  # what `mlds demo` printed


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """One `mlds demo` through the CLI (all three phases, DEMO_POSTS per platform) shared by the CLI,
    analytics, API, browser and definitions tests, which only read what it wrote; a test that writes works
    on a copy (`demo_home_copy`)."""
    from mlds_assets.cli import main

    home = tmp_path_factory.mktemp("demo") / "home"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(printed):
        env.setenv("MLDS_HOME", str(home))
        code = main(["demo", "--posts", str(DEMO_POSTS)])
    assert code == 0, printed.getvalue()
    settings = load_settings(env={"MLDS_HOME": str(home)})
    assert "DAGSTER_HOME" not in os.environ or os.environ["DAGSTER_HOME"] != str(settings.dagster_home)
    return DemoRun(settings, printed.getvalue())


@pytest.fixture(scope="session")
def demo_settings(demo_run: DemoRun) -> Settings:
    return demo_run.settings


@pytest.fixture
def demo_home_copy(demo_run: DemoRun, tmp_path: Path) -> Path:
    """The demo's MLDS_HOME (lake, store, landing, Dagster's SQLite instance: all relative to it), copied."""
    return shutil.copytree(demo_run.settings.home, tmp_path / "demo_home")


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """One generated Facebook export of 120 clean posts."""
    from mlds_assets.demo.exports import generate_facebook_csv

    return generate_facebook_csv(tmp_path / "facebook_export.csv", 120, dirty=False).path


# How `make test`'s two workers (pytest-xdist) share the suite out: a test file is one unit (its module-scoped
# fixtures run once) and the files that read the shared demo are one (the demo runs once); the slowest units
# go first, so that no worker is left running one long file at the end while the other idles.
DEMO_FILES = ("assets/test_analytics.py", "test_api.py", "test_browser.py", "test_definitions.py", "test_cli.py")
SLOWEST_FIRST = ("test_daemon.py", "test_shared_data.py", "demo", "assets/test_sentiment.py",
                 "assets/test_enhanced_entities.py", "assets/test_ingestion.py", "assets/test_embeddings_topics.py",
                 "assets/test_collection.py", "test_bad_input_corpus.py", "test_automation.py", "test_faults.py",
                 "test_concurrent_writers.py", "test_object_storage.py", "test_imports.py")  # fmt: skip


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0].removeprefix("mlds_assets_tests/")
    return "demo" if path in DEMO_FILES else path


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: n for n, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))  # stable: file order within


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Units as `work_unit` says, in collection order (xdist's own groups, `xdist_group`, key on a node-id
    suffix that pytest 9.2 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return ByWorkUnit(config, log)
