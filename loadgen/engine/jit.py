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

import contextlib
import hashlib
import marshal
import os
import sys
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


def cache_root() -> Path:
    """The directory numba caches this package's functions under."""
    where = os.environ.get("NUMBA_CACHE_DIR")
    return Path(where) if where else PACKAGE_DIR / "__pycache__"


def cache_is_warm() -> bool:
    """Whether a compiled kernel is probably cached (numba's index files exist)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return any(cache_root().rglob("kernel.*.nbi"))
    return any(cache_root().glob("kernel.*.nbi"))


def load_quickly() -> bool:
    """Everything below, for a process that loads cached functions and compiles nothing
    if it can help it (the fork helper); whether all of it applied."""
    return all((load_cached_lazily(), cache_runtime_module(), type_arrays_without_numpy_ma(),
                rebuild_environments_without_imports(), quiet_compiler_events()))


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


def cache_runtime_module(directory: Path | None = None) -> bool:
    """Load numba's runtime module (NRT: reference counting, atomics) from object code
    cached in ``directory`` (``cache_root()``) instead of compiling it at every start.

    numba caches the functions it compiles, but compiles this module from LLVM IR each
    time its runtime first initialises (about 0.03 s of the helper's start).  The cached
    code is keyed by numba's and llvmlite's versions and the codegen's target (triple,
    CPU, features): anything else compiles afresh and replaces it.  Returns whether
    numba's runtime has the shape this relies on (if not, nothing changes)."""
    import llvmlite
    import numba
    from numba.core.runtime import nrtdynmod

    if getattr(nrtdynmod.compile_nrt_functions, "cached", False):
        return True
    if not hasattr(nrtdynmod, "create_nrt_module"):
        return False

    def compile_nrt_functions(ctx: Any) -> Any:
        codegen = ctx.codegen()
        key = repr((numba.__version__, llvmlite.__version__, codegen.magic_tuple()))
        name = f"loadgen-nrt-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"
        path = (directory or cache_root()) / name
        with contextlib.suppress(Exception):  # missing, stale or torn: compile below
            return codegen.unserialize_library(marshal.loads(path.read_bytes()))
        ir_module, library = nrtdynmod.create_nrt_module(ctx)
        library.enable_object_caching()
        library.add_ir_module(ir_module)
        library.finalize()
        with contextlib.suppress(OSError):  # a read-only cache: compiled every time
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(marshal.dumps(library.serialize_using_object_code()))
            partial.replace(path)  # whole or not at all, for a concurrent start
        return library

    compile_nrt_functions.cached = True  # type: ignore[attr-defined]
    nrtdynmod.compile_nrt_functions = compile_nrt_functions
    return True


def type_arrays_without_numpy_ma() -> bool:
    """Type numpy arrays for numba without importing ``numpy.ma`` (about 0.025 s).

    numba's typing of an array first checks that it is not a masked array, and naming
    ``np.ma`` imports the module.  Until something imports it no masked array can exist,
    so the check is skipped until then; after, and for any dtype numba's own typing
    must judge, numba's function answers."""
    import numpy as np
    from numba.core import errors, types
    from numba.core.typing import typeof
    from numba.np import numpy_support

    original = getattr(typeof, "_typeof_ndarray", None)
    if original is None:
        return False
    if getattr(typeof.typeof_impl.dispatch(np.ndarray), "skips_numpy_ma", False):
        return True

    def typeof_ndarray(val: Any, c: Any) -> Any:
        if "numpy.ma" in sys.modules:
            return original(val, c)
        try:
            dtype = numpy_support.from_dtype(val.dtype)
        except errors.NumbaNotImplementedError:
            return original(val, c)
        layout = numpy_support.map_layout(val)
        return types.Array(dtype, val.ndim, layout, readonly=not val.flags.writeable)

    typeof_ndarray.skips_numpy_ma = True  # type: ignore[attr-defined]
    typeof.typeof_impl.register(np.ndarray)(typeof_ndarray)
    return True


def rebuild_environments_without_imports() -> bool:
    """Load a cached function without importing the numba modules its inlined helpers
    came from (``numba.np.arrayobj`` and what it imports: about 0.03 s).

    Each compiled function has an environment whose ``globals`` are its module's; a cache
    load rebuilds it by importing that module.  Only object mode reads those globals,
    and loadgen compiles in nopython mode alone; so a numba module not imported yet gets
    a stand-in dictionary that names it (pickling the environment again still works).
    Constants are kept as they are.  Returns whether numba's environments have the
    shape this relies on."""
    from numba.core import environment

    original = getattr(environment, "_rebuild_env", None)
    if original is None or not hasattr(environment, "lookup_environment"):
        return False
    if getattr(original, "skips_imports", False):
        return True

    def rebuild(modname: str, consts: Any, env_name: str) -> Any:
        if modname in sys.modules or not modname.startswith("numba."):
            return original(modname, consts, env_name)
        env = environment.lookup_environment(env_name)
        if env is None:
            env = environment.Environment({"__name__": modname})
            env.consts[:] = consts
            env.env_name = env_name
            environment.Environment._memo[env_name] = env
        return env

    rebuild.skips_imports = True  # type: ignore[attr-defined]
    environment._rebuild_env = rebuild
    return True


def quiet_compiler_events() -> bool:
    """Stop numba's bookkeeping that only its compiler's statistics read (about 0.015 s
    of a helper's start): the event numba raises around every call into LLVM (a cache
    load makes some 1500), and the scan of installed packages for numba extensions,
    which loadgen's functions never use.  Returns whether both had the shape this relies on."""
    from llvmlite.binding import ffi
    from numba.core import entrypoints

    lock = getattr(getattr(ffi, "lib", None), "_lock", None)
    callbacks = getattr(lock, "_cblist", None)
    if not isinstance(callbacks, list) or not hasattr(entrypoints, "_already_initialized"):
        return False
    callbacks[:] = [pair for pair in callbacks
                    if not getattr(pair[0], "__module__", "").startswith("numba.")]
    entrypoints._already_initialized = True
    return True
