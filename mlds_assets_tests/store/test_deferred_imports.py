"""The store defers the REST namespace client's package `__init__` that lancedb drags in: a search from the
CLI no longer loads its nine API modules, and whatever reads the package itself still gets all of it."""

from __future__ import annotations

import subprocess
import sys

from mlds_assets.store.deferred_imports import REST_CLIENT


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_importing_the_store_and_lancedb_loads_no_rest_api_module():
    loaded = _run(
        "import sys, mlds_assets.store.lancedb_store, lancedb\n"
        f"print(sorted(m for m in sys.modules if m.startswith('{REST_CLIENT}.api.')))"
    )
    assert loaded == "[]"


def test_the_rest_client_package_is_whole_on_first_use():
    out = _run(
        "import mlds_assets.store.lancedb_store, lancedb\n"
        f"from {REST_CLIENT} import ApiClient, TableApi\n"
        f"import {REST_CLIENT} as client\n"
        "print(ApiClient.__name__, TableApi.__name__, client.__version__, hasattr(client, 'CreateTableRequest'))"
    )
    assert out.split()[:2] == ["ApiClient", "TableApi"] and out.split()[-1] == "True"


def test_a_package_imported_already_or_absent_is_left_alone():
    from mlds_assets.store.deferred_imports import defer_package_init

    assert defer_package_init("json") is False  # imported already (and not a package)
    assert defer_package_init("no_such_package_mlds") is False


def test_lancedb_takes_the_python_312_override_markers_and_everyone_else_the_real_ones():
    out = _run(
        "import sys, overrides\n"
        "real = overrides.override, overrides.EnforceOverrides\n"
        "import mlds_assets.store.lancedb_store, lancedb.db\n"
        "print((overrides.override, overrides.EnforceOverrides) == real,"
        " type(lancedb.db.DBConnection).__name__, sys.version_info >= (3, 12))"
    )
    restored, metaclass, python_312 = out.split()
    assert restored == "True"
    assert metaclass != "EnforceOverridesMeta" or python_312 == "True"  # no bytecode checks at import
