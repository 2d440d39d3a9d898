"""Turn off NumPy's request for huge pages, which slows down new arrays on some kernels.

NumPy marks every new array of 4 MiB or more for transparent huge pages
(``madvise(MADV_HUGEPAGE)``, in ``numpy/_core/src/multiarray/alloc.c``).
Where ``/sys/kernel/mm/transparent_hugepage/defrag`` is ``madvise``, as on
the benchmark machine (docs/benchmarks.md), the first write to such an array
can make the kernel compact memory to find a huge page. That is the likely
cause of what was measured there: filling a new 65 MB array took 180 ms to
600 ms instead of 30 ms, and ``fit_transform`` of IMDb took 4.3 s instead of
2.8 s. Training, which reuses its arrays, took as long either way.

The ``logreg`` commands call :func:`prefer_small_pages` once. The library
leaves NumPy's setting alone unless its caller does the same. A user who sets
``NUMPY_MADVISE_HUGEPAGE`` (0 or 1) keeps NumPy's own handling of it.
"""

from __future__ import annotations

import importlib
import os

ENVIRONMENT_VARIABLE = "NUMPY_MADVISE_HUGEPAGE"


def prefer_small_pages() -> bool:
    """Stop NumPy from requesting huge pages, unless ``NUMPY_MADVISE_HUGEPAGE`` is set.

    Returns True when the setting changed. NumPy exposes the switch only as a
    private function, so a NumPy without it is left as it is.
    """
    if ENVIRONMENT_VARIABLE in os.environ:
        return False
    switch = _hugepage_switch()
    if switch is None:
        return False
    return bool(switch(False))


def _hugepage_switch():
    """Return NumPy's ``_set_madvise_hugepage(enabled) -> previous``, or None."""
    for module_name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        switch = getattr(module, "_set_madvise_hugepage", None)
        if switch is not None:
            return switch
    return None
