"""THP settings and mTHP counters: parsing on a fake tree, the real sysfs, and real huge faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.kernel import thp

from .probe import run_probe

ENABLED = Path(thp.THP_ROOT) / "enabled"

HUGE_WRITE = """
import json, mmap, re
from loadgen.kernel import vmstat
size, block = 64 << 20, 2 << 20
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.{advice})
before = vmstat.snapshot()
chunk = b"x" * block
for off in range(0, size, block):
    m[off:off + block] = chunk
after = vmstat.snapshot()
import ctypes
start = ctypes.addressof(ctypes.c_char.from_buffer(m))
huge_kb, inside = 0, False
for line in open("/proc/self/smaps"):
    head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
    if head:
        inside = int(head.group(1), 16) <= start < int(head.group(2), 16)
    elif inside and line.startswith("AnonHugePages:"):
        huge_kb = int(line.split()[1])
print(json.dumps({{"delta": vmstat.delta(before, after), "anon_huge_kb": huge_kb}}))
"""


def _fake_tree(root: Path) -> None:
    (root / "enabled").write_text("always [madvise] never\n")
    (root / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    (root / "hpage_pmd_size").write_text("2097152\n")
    for size, policy in (
        ("2048kB", "always [inherit] madvise never"),
        ("64kB", "always inherit [madvise] never"),
    ):
        stats = root / f"hugepages-{size}" / "stats"
        stats.mkdir(parents=True)
        (root / f"hugepages-{size}" / "enabled").write_text(policy + "\n")
        (stats / "anon_fault_alloc").write_text("7\n")
        (stats / "split").write_text("0\n")
    shmem_only = root / "hugepages-8kB" / "stats"
    shmem_only.mkdir(parents=True)
    (shmem_only / "shmem_alloc").write_text("1\n")


def test_settings_and_snapshot_on_a_fake_tree(tmp_path: Path) -> None:
    _fake_tree(tmp_path)
    settings = thp.settings(str(tmp_path))
    assert settings["enabled"] == "madvise" and settings["defrag"] == "madvise"
    assert settings["pmd_size_bytes"] == 2 << 20
    assert settings["mthp_enabled"] == {"64kB": "madvise", "2048kB": "inherit"}  # sorted by size
    snap = thp.mthp_snapshot(str(tmp_path))
    assert list(snap) == ["8kB", "64kB", "2048kB"]
    assert snap["64kB"] == {"anon_fault_alloc": 7, "split": 0}


def test_mthp_delta_per_size() -> None:
    before = {"64kB": {"anon_fault_alloc": 5, "split": 1}}
    after = {"64kB": {"anon_fault_alloc": 9, "split": 1}, "2048kB": {"anon_fault_alloc": 2}}
    assert thp.mthp_delta(before, after) == {"64kB": {"anon_fault_alloc": 4, "split": 0},
                                            "2048kB": {"anon_fault_alloc": 2}}


def test_selected_choice() -> None:
    assert thp.selected("always [madvise] never") == "madvise"
    assert thp.selected("") == "" and thp.selected(None) == ""


@pytest.mark.skipif(
    not thp.size_dirs(), reason="no per-size mTHP directories (kernel < 6.8 or THP off)"
)
def test_real_mthp_counters_parse() -> None:
    snap = thp.mthp_snapshot()
    assert snap and all(size.endswith("kB") and size[:-2].isdigit() for size in snap)
    assert all(
        isinstance(v, int) and v >= 0 for counters in snap.values() for v in counters.values()
    )
    assert any("anon_fault_alloc" in counters for counters in snap.values())
    assert set(thp.settings()["mthp_enabled"].values()) <= {"always", "inherit", "madvise", "never"}


def _thp_mode() -> str:
    return thp.selected(ENABLED.read_text()) if ENABLED.exists() else "never"


@pytest.mark.skipif(_thp_mode() == "never", reason="THP is disabled ([never]) or absent")
def test_madv_hugepage_writes_raise_thp_fault_alloc() -> None:
    out = run_probe(HUGE_WRITE.format(advice="MADV_HUGEPAGE"))
    if out["delta"]["thp_fault_alloc"] == 0 and out["delta"]["thp_fault_fallback"] > 0:
        pytest.skip("the kernel fell back to small pages (no free huge pages now)")
    assert out["delta"]["thp_fault_alloc"] >= 1
    assert out["anon_huge_kb"] >= 2048


@pytest.mark.skipif(_thp_mode() == "never", reason="THP is disabled ([never]) or absent")
def test_madv_nohugepage_writes_get_no_huge_pages() -> None:
    """System-wide counter: other processes may add a few, but not one per 2 MiB block written."""
    out = run_probe(HUGE_WRITE.format(advice="MADV_NOHUGEPAGE"))
    assert out["anon_huge_kb"] == 0
    assert out["delta"]["thp_fault_alloc"] < 32
