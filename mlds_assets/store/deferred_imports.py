"""Imports the embedded store pays for and never uses, deferred to their first use.

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

REST_CLIENT = "lance_namespace_urllib3_client"


def defer_package_init(name: str) -> bool:
    """Register package `name` with its submodules importable and its `__init__` run on the first read
    of an attribute it defines. False when it is imported already or not installed (nothing to defer)."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    package = importlib.util.module_from_spec(spec)

    def __getattr__(attribute: str):
        if attribute.startswith("__"):  # the import system probing (__path__ and __spec__ are set)
            raise AttributeError(attribute)
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = __getattr__
    sys.modules[name] = package
    return True
