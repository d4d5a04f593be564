"""The region: fault counts per backing, setup advice, and what end_pass does between passes.

Faults are counted with getrusage(RUSAGE_THREAD) around one byte touched per page by
numpy (no allocation of its own), so a count can be compared with the page count; a few
faults of the interpreter's own are allowed as slack.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine.faults import anon_huge_bytes
from loadgen.engine.region import Region, RegionError
from loadgen.kernel.mmfacts import NR_HUGEPAGES, hugetlb_pool, swap_active
from loadgen.plan import Backing, MemoryControls, Mlock, Refault, RwMode
from tests.engine.conftest import make_job, run_job

PAGE = mmap.PAGESIZE
SIZE = 4 * 1024 * 1024
PAGES = SIZE // PAGE
SLACK = 16
ROOT = os.geteuid() == 0


def minflt() -> int:
    """Minor plus major faults of this thread (a file page may be a major fault)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_minflt + usage.ru_majflt


def touch(region: Region, write: bool, step: int = PAGE) -> int:
    """One byte per ``step`` read or written; the faults it took."""
    arr = np.frombuffer(region.mm, dtype=np.uint8)
    scratch = np.ones(len(arr[::step]) * step, dtype=np.uint8)  # numpy's own first-use
    int(scratch[::step].sum())  # allocations (ufunc buffers) fault before, not during
    scratch[::step] = 1
    del scratch
    before = minflt()
    if write:
        arr[::step] = 1
    else:
        int(arr[::step].sum())
    after = minflt()
    del arr
    return after - before


def region(backing: Backing = Backing.ANON, size: int = SIZE, thp: str = "never",
           **kw: object) -> Region:
    return Region(size, thp, MemoryControls(backing=backing, **kw))  # type: ignore[arg-type]


def vm_flags(address: int) -> set[str]:
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):
            lo, _, hi = head.partition("-")
            inside = int(lo, 16) <= address < int(hi, 16)
        elif inside and head == "VmFlags:":
            return set(line.split()[1:])
    return set()


def smaps_field(address: int, name: str) -> int:
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):
            lo, _, hi = head.partition("-")
            inside = int(lo, 16) <= address < int(hi, 16)
        elif inside and head == f"{name}:":
            return int(line.split()[1]) * 1024
    return 0


@pytest.mark.parametrize("backing", [Backing.ANON, Backing.SHARED, Backing.MEMFD])
def test_a_write_pass_faults_once_per_page(backing: Backing) -> None:
    r = region(backing)
    try:
        assert PAGES <= touch(r, write=True) <= PAGES + SLACK
        assert touch(r, write=True) <= SLACK  # the mapping persists: fio's engine
    finally:
        r.close()


@pytest.mark.parametrize("where", ["tmp", "shm"])
def test_file_backing_faults_once_per_page_and_is_sized(tmp_path: Path, where: str) -> None:
    base = tmp_path if where == "tmp" else Path("/dev/shm")
    if not base.is_dir():
        pytest.skip("no /dev/shm")
    path = base / f"loadgen-test-{os.getpid()}"
    try:
        r = region(Backing.FILE, filename=str(path))
        try:
            assert path.stat().st_size == SIZE
            faults = touch(r, write=True)
            # tmpfs: one shmem fault per page; a disk file system with large page-cache
            # folios may map several pages of one folio per fault
            lowest = PAGES if where == "shm" else PAGES // 512
            assert lowest <= faults <= PAGES + SLACK
            assert touch(r, write=True) <= SLACK
        finally:
            r.close()
        assert path.read_bytes()[:1] == b"\x01"  # MAP_SHARED: the writes reached the file
    finally:
        path.unlink(missing_ok=True)


def test_file_backing_refuses_a_directory_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(RegionError, match="backing=file: open"):
        region(Backing.FILE, filename=str(tmp_path))


def test_reads_of_untouched_anon_map_the_zero_page_and_a_later_write_faults_again() -> None:
    r = region()
    try:
        assert PAGES <= touch(r, write=False) <= PAGES + SLACK  # zero page, one fault each
        assert PAGES <= touch(r, write=True) <= PAGES + SLACK  # COW from the zero page
        assert touch(r, write=True) <= SLACK
    finally:
        r.close()


@contextlib.contextmanager
def hugetlb_pages(count: int) -> Iterator[int]:
    """The default-size hugetlb pool at ``count`` pages for the test, restored after."""
    if not ROOT:
        pytest.skip("sizing the hugetlb pool needs root")
    control = Path(NR_HUGEPAGES)
    before = control.read_text().strip()
    try:
        control.write_text(str(count))
        got = hugetlb_pool().free
        if got < count:
            pytest.skip(f"the kernel gave {got} of {count} huge pages")
        yield hugetlb_pool().page_size
    finally:
        control.write_text(before)


def test_hugetlb_faults_once_per_huge_page() -> None:
    with hugetlb_pages(4) as page:
        r = region(Backing.HUGETLB, size=4 * page, thp="inherit")
        try:
            faults = touch(r, write=True)
            assert 4 <= faults <= 4 + SLACK
            assert faults < SIZE // PAGE  # not one per base page
        finally:
            r.close()


def test_hugetlb_with_an_empty_pool_names_nr_hugepages() -> None:
    with hugetlb_pages(0), pytest.raises(RegionError, match="/proc/sys/vm/nr_hugepages"):
        region(Backing.HUGETLB, size=2 * hugetlb_pool().page_size, thp="inherit")


def test_populate_faults_the_region_in_at_setup_and_times_it() -> None:
    r = region(populate=True)
    try:
        assert touch(r, write=True) <= SLACK
        assert r.stats().populate_ns > 0
    finally:
        r.close()


def test_mlock_locks_every_page_at_setup() -> None:
    r = region(mlock=Mlock.ON)
    try:
        assert smaps_field(r.address, "Locked") == SIZE
        assert touch(r, write=True) <= SLACK
        assert r.stats().mlock_ns > 0
    finally:
        r.close()


def test_mlock_onfault_locks_pages_as_they_fault() -> None:
    r = region(mlock=Mlock.ONFAULT)
    try:
        assert smaps_field(r.address, "Locked") == 0
        assert PAGES <= touch(r, write=True) <= PAGES + SLACK
        assert smaps_field(r.address, "Locked") == SIZE
    finally:
        r.close()


@pytest.mark.parametrize("mode", [Refault.DONTNEED, Refault.REMAP])
@pytest.mark.parametrize("backing", [Backing.ANON, Backing.MEMFD])
def test_refault_makes_every_pass_fault_again(mode: Refault, backing: Backing) -> None:
    r = region(backing, refault=mode)
    try:
        faults = [touch(r, write=True)]
        for more in (True, True, False):
            r.end_pass(more)
            if more:
                faults.append(touch(r, write=True))
        assert all(PAGES <= f <= PAGES + SLACK for f in faults), faults
        stats = r.stats()
        assert stats.passes == 3 and stats.refaults == 2  # none after the last pass
        assert stats.refault_ns > 0 and stats.refault_max_ns <= stats.refault_ns
    finally:
        r.close()


def test_remap_keeps_the_setup_advice() -> None:
    r = region(refault=Refault.REMAP, thp="never", ksm=True)
    try:
        r.end_pass(True)
        assert {"nh", "mg"} <= vm_flags(r.address)
    finally:
        r.close()


def test_without_refault_end_pass_does_nothing() -> None:
    r = region()
    try:
        touch(r, write=True)
        r.end_pass(True)
        assert touch(r, write=True) <= SLACK
        assert r.stats().passes == 0
    finally:
        r.close()


@pytest.mark.skipif(swap_active(), reason="with swap the pages do leave")
def test_pageout_without_swap_leaves_private_pages_resident() -> None:
    r = region(refault=Refault.PAGEOUT)
    try:
        touch(r, write=True)
        r.end_pass(True)
        assert touch(r, write=True) <= SLACK
        assert r.stats().refaults == 1
    finally:
        r.close()


def test_thp_delay_advises_huge_pages_only_after_the_passes() -> None:
    r = region(thp="madvise", thp_delay_passes=2)
    try:
        assert "nh" in vm_flags(r.address) and "hg" not in vm_flags(r.address)
        r.end_pass(True)
        assert "hg" not in vm_flags(r.address)
        r.end_pass(True)
        assert "hg" in vm_flags(r.address)
        assert r.stats().thp_advised_pass == 2
    finally:
        r.close()


def test_thp_delay_by_time() -> None:
    r = region(thp="madvise", thp_delay_ns=1)
    try:
        time.sleep(0.001)
        r.end_pass(False)
        assert "hg" in vm_flags(r.address)
        assert r.stats().thp_advised_ns > 0
    finally:
        r.close()


def test_collapse_after_the_first_pass_makes_huge_pages() -> None:
    r = region(size=8 * 1024 * 1024, thp="inherit", collapse=True)
    try:
        touch(r, write=True)
        r.end_pass(True)
        r.end_pass(False)  # once only
        stats = r.stats()
        if stats.collapse in ("EINVAL", "ENOSYS"):
            pytest.skip(f"this kernel refuses MADV_COLLAPSE ({stats.collapse})")
        assert stats.collapse == "ok" and stats.collapse_ns > 0
        assert anon_huge_bytes(r.address) >= 2 * 1024 * 1024
    finally:
        r.close()


def test_cold_is_timed_each_pass() -> None:
    r = region(cold=True)
    try:
        touch(r, write=True)
        r.end_pass(True)
        r.end_pass(False)
        assert r.stats().passes == 2 and r.stats().cold_ns > 0
    finally:
        r.close()


def test_ksm_marks_the_region_mergeable() -> None:
    r = region(ksm=True)
    try:
        assert "mg" in vm_flags(r.address)
    finally:
        r.close()


# ---- through the engine's loop (end_pass after every pass) ------------------------------------
def test_refault_dontneed_loops_3_takes_three_times_the_pages_faults() -> None:
    base = make_job(rw=RwMode.WRITE, size=SIZE, loops=3, thp="never")
    kept = run_job(base).total.minf
    refaulted = run_job(replace(base, mm=MemoryControls(refault=Refault.DONTNEED))).total.minf
    assert PAGES <= kept < PAGES + PAGES // 2  # fio: only the first pass faults
    assert 3 * PAGES <= refaulted < 3 * PAGES + PAGES // 2


def test_a_time_based_soak_with_refault_faults_in_every_interval() -> None:
    job = make_job(rw=RwMode.WRITE, size=SIZE, thp="never", time_based=True,
                   runtime_ns=600_000_000, mm=MemoryControls(refault=Refault.REMAP))
    reports = run_job(job, interval_ns=100_000_000).reports
    assert len(reports) >= 3
    assert all(r.minf >= PAGES for r in reports[:-1] if r.runtime_ns >= 50_000_000)


def test_ksm_merges_the_regions_identical_pages() -> None:
    if not ROOT:
        pytest.skip("starting ksmd needs root")
    ksm = Path("/sys/kernel/mm/ksm")
    if not (ksm / "run").exists():
        pytest.skip("no KSM")
    saved = {n: (ksm / n).read_text().strip() for n in ("run", "pages_to_scan", "sleep_millisecs")}
    r = region(ksm=True)
    try:
        touch(r, write=True)  # every page holds the same byte pattern
        (ksm / "pages_to_scan").write_text("10000")
        (ksm / "sleep_millisecs").write_text("10")
        (ksm / "run").write_text("1")
        deadline = time.monotonic() + 60
        while r.stats().ksm_merging_pages < PAGES // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.stats().ksm_merging_pages >= PAGES // 2
    finally:
        r.close()
        for name in ("run", "pages_to_scan", "sleep_millisecs"):
            (ksm / name).write_text(saved[name])


def _numa_map_line(region: Region) -> str:
    with open("/proc/self/numa_maps") as f:
        return next(line for line in f if int(line.split()[0], 16) == region.address)


@pytest.mark.parametrize(
    ("policy", "shown"),
    [(("bind", (0,)), "bind:0"), (("interleave", (0,)), "interleave:0"),
     (("prefer", (0,)), "prefer:0"), (("local", ()), "local")],
)
def test_numa_mem_policy_binds_the_mapping_before_it_faults(
    policy: tuple[str, tuple[int, ...]], shown: str
) -> None:
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("this kernel has no /proc/PID/numa_maps (CONFIG_NUMA off)")
    region = Region(1 << 20, policy=policy)
    try:
        region.mm[:4096] = b"x" * 4096
        assert _numa_map_line(region).split()[1] == shown
    finally:
        region.close()


def test_a_jobs_numa_mem_policy_reaches_its_region() -> None:
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("this kernel has no /proc/PID/numa_maps (CONFIG_NUMA off)")
    region = Region.for_job(make_job(size=1 << 20, numa_mem_policy=("interleave", (0,))))
    try:
        assert _numa_map_line(region).split()[1] == "interleave:0"
    finally:
        region.close()


def test_numa_mem_policy_with_populate_populates_after_binding() -> None:
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("this kernel has no /proc/PID/numa_maps (CONFIG_NUMA off)")
    region = Region(1 << 20, controls=replace(MemoryControls(), populate=True),
                    policy=("bind", (0,)))
    try:
        fields = _numa_map_line(region).split()
        assert fields[1] == "bind:0" and "N0=256" in fields  # every page, by the policy
        assert region.stats().populate_ns > 0
    finally:
        region.close()


def test_numa_mem_policy_on_a_node_that_does_not_exist_is_refused() -> None:
    with pytest.raises(RegionError, match=r"numa_mem_policy=bind:63: mbind of 1048576 bytes"):
        Region(1 << 20, policy=("bind", (63,)))
