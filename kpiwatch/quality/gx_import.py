"""Import Great Expectations without the libraries only its unused expectations need.

`import great_expectations` registers every core expectation, and two of them (KL divergence, and the KS
test metrics) import scipy.stats and altair at the top of their modules, to call them only when such an
expectation is validated or rendered: 0.9 of GX's 3.3 s of import here, for expectations no kpiwatch suite
uses. While GX imports, those two modules are imported lazily (Python's importlib.util.LazyLoader): the module
object exists, and its code runs on first use of any of its attributes, so an expectation that does use
them works as before.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator

# Imported by GX's expectation modules at the top, used only inside an expectation's methods.
LAZY_MODULES = frozenset({"scipy.stats", "altair"})


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds LAZY_MODULES as the other finders would, with their loader wrapped in a LazyLoader."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in LAZY_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


@contextlib.contextmanager
def lazily_imported_modules() -> Iterator[None]:
    finder = _LazyFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_great_expectations() -> None:
    """GX and kpiwatch's own expectation (kpiwatch.quality.gx_row_queries), once per process. The suite worker
    calls it under kpiwatch.bulk_imports; a long-lived process (the UI's code server) without."""
    if "kpiwatch.quality.gx_row_queries" in sys.modules:
        return
    with lazily_imported_modules():
        import great_expectations  # noqa: F401

        from kpiwatch.quality import gx_row_queries  # noqa: F401
