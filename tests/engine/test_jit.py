"""Where numba's cache goes, and loading from it without setting up the compiler, compiling
numba's runtime or importing modules the loaded code does not need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.engine import jit

# A cached function in a module of its own, called in a fresh interpreter: prints its
# result, whether numba took it from the cache, and whether numba's compiler modules
# (one stands for all of the refresh) were imported.
PROGRAM = """
import json, sys
sys.path.insert(0, {where!r})
from loadgen.engine import jit
lazy = {lazy!r} and jit.load_cached_lazily()
import cachedmod
got = cachedmod.f(20)
print(json.dumps({{"got": got, "lazy": lazy,
                   "hits": sum(cachedmod.f.stats.cache_hits.values()),
                   "linalg": "numba.np.linalg" in sys.modules}}))
"""
MODULE = """
import numba

@numba.njit(cache=True)
def f(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
"""


def _fresh(where: Path, program: str) -> dict[str, object]:
    """The JSON last printed by ``program`` in a fresh interpreter caching under ``where``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(where / "cache")}
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         env=env, check=True, timeout=120).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


def _call(tmp_path: Path, lazy: bool) -> dict[str, object]:
    return _fresh(tmp_path, PROGRAM.format(where=str(tmp_path), lazy=lazy))


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    (tmp_path / "cachedmod.py").write_text(MODULE)
    return tmp_path


def test_a_lazy_load_compiles_on_a_miss_and_loads_on_a_hit(module_dir: Path) -> None:
    first = _call(module_dir, lazy=True)
    assert first == {"got": 2470, "lazy": True, "hits": 0, "linalg": True}  # compiled
    second = _call(module_dir, lazy=True)
    assert second == {"got": 2470, "lazy": True, "hits": 1, "linalg": False}


def test_without_it_a_cache_hit_sets_up_the_whole_compiler(module_dir: Path) -> None:
    _call(module_dir, lazy=False)
    assert _call(module_dir, lazy=False) == {"got": 2470, "lazy": False, "hits": 1,
                                             "linalg": True}


def test_installing_it_twice_keeps_one_wrapper() -> None:
    from numba.core import caching

    assert jit.load_cached_lazily()
    first = caching.Cache.load_overload
    assert jit.load_cached_lazily()
    assert caching.Cache.load_overload is first


def test_a_read_only_package_caches_under_the_user_cache_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jit, "_writable", lambda directory: False)  # root writes anywhere
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    jit.choose_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "xdg" / "loadgen" / "numba")
    assert (tmp_path / "xdg" / "loadgen" / "numba").is_dir()


def test_a_cache_dir_the_user_set_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jit, "_writable", lambda directory: False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    jit.choose_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


# The helper's whole quick load (``load_quickly``), with a function whose inlined helpers
# come from numba.np.arrayobj (an array's slice assigned), in a fresh interpreter.
QUICK_PROGRAM = """
import json, sys
sys.path.insert(0, {where!r})
from loadgen.engine import jit
quick = jit.load_quickly()
if {forbid_nrt_compile!r}:
    from numba.core.runtime import nrtdynmod
    def refuse(ctx):
        raise AssertionError("compiled the runtime module")
    nrtdynmod.create_nrt_module = refuse
import numpy as np
import quickmod
a = np.zeros(4, dtype=np.int64)
got = int(quickmod.fill_tail(a))
from llvmlite.binding import ffi
print(json.dumps({{"got": got, "quick": quick, "tail": a.tolist(),
                   "hits": sum(quickmod.fill_tail.stats.cache_hits.values()),
                   "numpy.ma": "numpy.ma" in sys.modules,
                   "arrayobj": "numba.np.arrayobj" in sys.modules,
                   "numba_callbacks": sum(c[0].__module__.startswith("numba.")
                                          for c in ffi.lib._lock._cblist)}}))
"""
QUICK_MODULE = """
import numba

@numba.njit(cache=True)
def fill_tail(a):
    tail = a[1:]
    tail[:] = 3
    return a.sum()
"""


def _quick(where: Path, forbid_nrt_compile: bool = False) -> dict[str, object]:
    return _fresh(where, QUICK_PROGRAM.format(where=str(where),
                                              forbid_nrt_compile=forbid_nrt_compile))


@pytest.fixture
def quick_dir(tmp_path: Path) -> Path:
    (tmp_path / "quickmod.py").write_text(QUICK_MODULE)
    return tmp_path


def test_a_quick_load_skips_the_imports_the_cached_code_does_not_need(quick_dir: Path) -> None:
    first = _quick(quick_dir)  # compiles: numba then imports all it has
    assert first["got"] == 9 and first["hits"] == 0 and first["quick"] is True
    assert first["arrayobj"] is True
    second = _quick(quick_dir)
    assert second == {"got": 9, "quick": True, "tail": [0, 3, 3, 3], "hits": 1,
                      "numpy.ma": False, "arrayobj": False, "numba_callbacks": 0}


def test_numbas_runtime_module_is_loaded_from_its_cache(quick_dir: Path) -> None:
    _quick(quick_dir)
    cached = list((quick_dir / "cache").glob("loadgen-nrt-*.bin"))
    assert len(cached) == 1
    # the runtime's compiler refused: the second run can only have loaded it
    assert _quick(quick_dir, forbid_nrt_compile=True)["got"] == 9


def test_a_torn_runtime_module_is_compiled_again_and_replaced(quick_dir: Path) -> None:
    _quick(quick_dir)
    (cached,) = (quick_dir / "cache").glob("loadgen-nrt-*.bin")
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 3])
    assert _quick(quick_dir)["got"] == 9
    assert cached.read_bytes() == whole
    assert not list((quick_dir / "cache").glob("*.tmp"))


TYPING_PROGRAM = """
import json, sys
import numpy as np
from loadgen.engine import jit
from numba.core.typing import typeof
assert jit.type_arrays_without_numpy_ma() and jit.type_arrays_without_numpy_ma()
frozen = np.zeros(3)
frozen.flags.writeable = False
arrays = (np.zeros(3), np.zeros((2, 3), order="F"), np.zeros((2, 4))[:, ::2],
          np.zeros(2, np.int8), frozen)
quick = [str(typeof.typeof(a)) for a in arrays]
skipped = "numpy.ma" not in sys.modules
import numpy.ma
numbas = [str(typeof._typeof_ndarray(a, None)) for a in arrays]
try:
    typeof.typeof(numpy.ma.masked_array([1, 2]))
    masked = "typed"
except Exception as exc:
    masked = type(exc).__name__
print(json.dumps({"skipped": skipped, "same": quick == numbas, "quick": quick,
                  "masked": masked}))
"""


def test_arrays_are_typed_as_numba_types_them_and_masked_arrays_still_refused() -> None:
    out = subprocess.run([sys.executable, "-c", TYPING_PROGRAM], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    result = json.loads(out.splitlines()[-1])
    assert result["skipped"] and result["same"], result
    assert "readonly array(float64, 1d, C)" in result["quick"]
    assert result["masked"] == "NumbaTypeError"
