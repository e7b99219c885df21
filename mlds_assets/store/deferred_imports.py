"""lancedb's import without what the embedded store pays for and never uses (`import_lancedb`).

`lancedb` imports `lance_namespace`, whose generated REST client package imports its nine API modules
(about 1.2 s of pydantic-decorated code on two cores, 2026-12-01) in its `__init__` only to re-export
them. A local or object-storage store never speaks that REST protocol: it needs the client's `models`
subpackage, which `lance_namespace` imports by its own name. So the package is registered without running
its `__init__`; the first attribute read from the package itself (`ApiClient`, `TableApi`, ...) runs the
`__init__` then, and everything it exports is there as before. Submodule imports are unaffected.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from contextlib import contextmanager

REST_CLIENT = "lance_namespace_urllib3_client"


def import_lancedb():
    """`lancedb`, imported with its REST namespace client's `__init__` deferred and its override checks
    as on Python 3.12 (below): `mlds search` from the CLI starts 1.4 s sooner on two cores (2026-12-01)."""
    defer_package_init(REST_CLIENT)
    with overrides_as_on_python_312():
        import lancedb
        import lancedb.index

    return lancedb


def defer_package_init(name: str) -> bool:
    """Register package `name` with its submodules importable and its `__init__` run on the first read
    of an attribute it defines. False when it is imported already or not installed (nothing to defer)."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    package = importlib.util.module_from_spec(spec)
    first_use = threading.Lock()

    def __getattr__(attribute: str):
        if attribute.startswith("__"):  # the import system probing (__path__ and __spec__ are set)
            raise AttributeError(attribute)
        with first_use:  # one thread runs the __init__; another arriving meanwhile waits for it
            if "__getattr__" in package.__dict__:
                del package.__getattr__
                spec.loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = __getattr__
    sys.modules[name] = package
    return True


@contextmanager
def overrides_as_on_python_312():
    """While lancedb is imported: its classes marked as they are on Python 3.12+, where lancedb takes
    `typing.override` (a marker) and an empty `EnforceOverrides`. On 3.11 it takes the `overrides`
    package's, which disassembles the caller's bytecode at every decorated method to check it against the
    base classes, a development check (0.25 s of lancedb's import here). Restored afterwards: any other
    importer of `overrides` gets the real ones."""
    if sys.version_info >= (3, 12) or "lancedb" in sys.modules:
        yield
        return
    try:
        import overrides
    except ImportError:
        yield
        return
    real = overrides.override, overrides.EnforceOverrides

    def override(method=None, **_options):
        def mark(function):
            function.__override__ = True
            return function

        return mark(method) if method is not None else mark

    class EnforceOverrides:
        pass

    overrides.override, overrides.EnforceOverrides = override, EnforceOverrides
    try:
        yield
    finally:
        overrides.override, overrides.EnforceOverrides = real
