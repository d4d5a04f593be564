"""Where numba's cache goes, and loading from it without setting up the compiler."""

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


def _call(tmp_path: Path, lazy: bool) -> dict[str, object]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(where=str(tmp_path), lazy=lazy)],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    ).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


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
