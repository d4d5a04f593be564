"""mem=/iomem=: what backs the write source and read buffer, as fio allocates its area."""

from __future__ import annotations

import errno
import mmap
from pathlib import Path

import pytest

from loadgen.engine.runner import EngineError, JobRunner
from loadgen.engine.verify import region_view
from loadgen.plan import BufferControls, MemKind
from tests.engine.conftest import make_job, run_job

K = 1024


def _mapping_of(address: int) -> str:
    """The /proc/self/maps line of the mapping that holds ``address``."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        span = line.split()[0]
        lo, hi = (int(x, 16) for x in span.split("-"))
        if lo <= address < hi:
            return line
    return ""


def _setup(**kw: object) -> JobRunner:
    runner = JobRunner(make_job(rw="write", size=64 * K, **kw))
    runner.setup()
    return runner


def test_shm_is_a_sysv_segment_gone_when_the_job_closes() -> None:
    runner = _setup(mem=MemKind.SHM)
    assert runner.source is not None
    address = runner.source.address
    assert "SYSV" in _mapping_of(address)
    runner.close()
    assert "SYSV" not in _mapping_of(address)


def test_mmapshared_file_holds_what_the_job_writes_from(in_tmp: Path) -> None:
    path = in_tmp / "buf"
    path.write_bytes(b"")  # existed: kept after the job
    runner = JobRunner(make_job(rw="write", size=64 * K, mem=MemKind.MMAPSHARED,
                                mem_file=str(path),
                                buffers=BufferControls(pattern="deadbeef", scramble=False)))
    runner.setup()
    assert runner.source is not None and str(path) in _mapping_of(runner.source.address)
    runner.run(lambda delta: None, 10**12, lambda: False)
    assert runner.region is not None
    written = bytes(region_view(runner.region.address, 64 * K))
    assert written == bytes.fromhex("deadbeef") * (16 * K)  # copied from that source
    runner.close()
    data = path.read_bytes()
    assert data[:4096] == bytes.fromhex("deadbeef") * 1024  # the source the writes copied


def test_a_file_loadgen_created_is_removed(in_tmp: Path) -> None:
    path = in_tmp / "made"
    runner = _setup(mem=MemKind.MMAP, mem_file=str(path))
    assert path.exists() and path.stat().st_size >= 2 * 4096  # ring + read buffer
    runner.close()
    assert not path.exists()


def test_iomem_align_offsets_the_area_from_page_alignment() -> None:
    for kind in (MemKind.MALLOC, MemKind.MMAP):
        runner = _setup(mem=kind, mem_align=512)
        assert runner.source is not None and runner.source.address % mmap.PAGESIZE == 512
        runner.close()


def test_huge_types_need_the_hugetlb_pool() -> None:
    free = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("HugePages_Free:")))
    for kind in (MemKind.MMAPHUGE, MemKind.SHMHUGE):
        job = make_job(rw="write", size=64 * K, mem=kind)
        if free:
            assert run_job(job).ios == (0, 16)
            continue
        with pytest.raises(EngineError) as exc:  # an empty pool: the job fails, clearly
            run_job(job)
        assert exc.value.errno in (errno.ENOMEM, errno.EINVAL, errno.EPERM)
        assert f"mem={kind}" in str(exc.value)


def test_every_kind_writes_the_same_counts() -> None:
    for kind in (MemKind.MALLOC, MemKind.SHM, MemKind.MMAP, MemKind.MMAPSHARED):
        assert run_job(make_job(rw="randrw", size=256 * K, mem=kind)).ios == run_job(
            make_job(rw="randrw", size=256 * K)).ios
