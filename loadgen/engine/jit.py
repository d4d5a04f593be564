"""Where numba keeps the compiled kernel, decided before numba is first imported.

numba caches machine code next to the module (``__pycache__``) when that directory is
writable; with a read-only install (a system package, a wheel in a root-owned venv) it
would compile on every run.  Then the cache goes under the user's cache directory
(``$XDG_CACHE_HOME/loadgen/numba`` or ``~/.cache/loadgen/numba``), and where that cannot
be made either (a user whose home does not exist, such as ``nobody``) under the temporary
directory, one per user.  numba refuses to decorate a cached function with nowhere to
write, so some writable directory must always be chosen.  A ``NUMBA_CACHE_DIR`` set by
the user always wins.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loadgen" / "numba"


def _writable(directory: Path) -> bool:
    probe = directory / "__pycache__"
    target = probe if probe.exists() else directory
    return os.access(target, os.W_OK | os.X_OK)


def _usable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def choose_cache_dir() -> None:
    """Point numba at a writable cache directory (only when the package's is not)."""
    if os.environ.get("NUMBA_CACHE_DIR") or _writable(PACKAGE_DIR):
        return
    chosen = user_cache_dir()
    if not _usable(chosen):
        chosen = Path(tempfile.gettempdir()) / f"loadgen-{os.getuid()}" / "numba"
        _usable(chosen)
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)


def cache_is_warm() -> bool:
    """Whether a compiled kernel is probably cached (numba's index files exist)."""
    where = os.environ.get("NUMBA_CACHE_DIR")
    if where:
        return any(Path(where).rglob("kernel.*.nbi"))
    return any((PACKAGE_DIR / "__pycache__").glob("kernel.*.nbi"))


def load_cached_lazily() -> bool:
    """Make numba load a cached function without first setting up its whole compiler.

    Before each cache lookup numba refreshes its target context: it imports and
    registers every typing and lowering module it has (some 60 modules, about 0.1 s),
    which only compiling needs.  Loading machine code from the cache needs the runtime
    (NRT) alone.  After this call a lookup initialises the runtime, and the refresh runs
    only when the lookup misses, just before numba compiles.  Returns whether numba's
    cache has the shape this relies on (if not, nothing changes).
    """
    from numba.core import caching
    from numba.core.runtime import rtsys

    cache = caching.Cache
    if not all(hasattr(cache, name) for name in ("load_overload", "_load_overload",
                                                  "_guard_against_spurious_io_errors")):
        return False
    if getattr(cache.load_overload, "lazy", False):
        return True

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            found = self._load_overload(sig, target_context)
            if found is not None:
                return found
        target_context.refresh()  # a miss: numba compiles next, with everything loaded
        return None

    load_overload.lazy = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload
    return True
