"""Where numba keeps the compiled kernel, decided before numba is first imported.

numba caches machine code next to the module (``__pycache__``) when that directory is
writable; with a read-only install (a system package, a wheel in a root-owned venv) it
would compile on every run.  Then the cache goes under the user's cache directory
(``$XDG_CACHE_HOME/loadgen/numba`` or ``~/.cache/loadgen/numba``).  A
``NUMBA_CACHE_DIR`` set by the user always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loadgen" / "numba"


def _writable(directory: Path) -> bool:
    probe = directory / "__pycache__"
    target = probe if probe.exists() else directory
    return os.access(target, os.W_OK | os.X_OK)


def choose_cache_dir() -> None:
    """Point numba at a writable cache directory (only when the package's is not)."""
    if os.environ.get("NUMBA_CACHE_DIR") or _writable(PACKAGE_DIR):
        return
    os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir())


def cache_is_warm() -> bool:
    """Whether a compiled kernel is probably cached (numba's index files exist)."""
    where = os.environ.get("NUMBA_CACHE_DIR")
    if where:
        return any(Path(where).rglob("kernel.*.nbi"))
    return any((PACKAGE_DIR / "__pycache__").glob("kernel.*.nbi"))
