"""What written blocks hold: compression, dedupe, patterns, zeroes, scramble, refill."""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np

from loadgen.engine.buffers import WriteSource
from loadgen.engine.runner import JobRunner
from loadgen.engine.verify import region_view
from loadgen.plan import BufferControls, Job
from tests.engine.conftest import make_job
from tests.jobfile.plans import load

M = 1024 * 1024


def _run(job: Job) -> bytes:
    """Run a write job and return what the mapping holds."""
    runner = JobRunner(job)
    runner.setup()
    try:
        runner.run(lambda d: None, 10**12, lambda: False)
        return bytes(region_view(runner._address, job.size))
    finally:
        runner.close()


def _written(**controls: object) -> bytes:
    """Run a 1 MiB sequential write job and return what the mapping holds."""
    return _run(make_job(rw="write", size=1 * M, buffers=BufferControls(**controls)))  # type: ignore[arg-type]


def _blocks(data: bytes) -> Counter[bytes]:
    """How often each 4 KiB block's contents occur."""
    return Counter(data[i:i + 4096] for i in range(0, len(data), 4096))


def _dedupe_jobs(text: str) -> list[Job]:
    plan, _ = load(["--name=global", "--rw=write", "--size=4m", "--dedupe_percentage=50",
                    *text.split()])
    return list(plan.jobs)


def _ratio(data: bytes) -> float:
    return len(zlib.compress(data, 6)) / len(data)


def test_compress_percentage_50_compresses_to_about_half() -> None:
    assert 0.4 < _ratio(_written(compress_percentage=50, refill=True)) < 0.6


def test_compress_percentage_is_per_chunk() -> None:
    data = np.frombuffer(_written(compress_percentage=75, compress_chunk=512, refill=True),
                         np.uint8).reshape(-1, 512)
    assert not data[:, 128:].any()  # the last 75% of every 512-byte chunk is zeroes
    assert 0.2 < _ratio(data.tobytes()) < 0.35


def test_default_writes_are_random_and_every_block_differs() -> None:
    data = _written()
    assert _ratio(data[:4096]) > 0.95  # one buffer of random bytes (fio's), reused
    blocks = {data[i:i + 4096] for i in range(0, len(data), 4096)}
    assert len(blocks) == 256  # scramble_buffers stamps each block's offset


def test_without_scramble_every_block_is_the_same() -> None:
    data = _written(scramble=False)
    assert len({data[i:i + 4096] for i in range(0, len(data), 4096)}) == 1


def test_scramble_stamps_each_sectors_offset() -> None:
    data = np.frombuffer(_written(), np.uint8).reshape(-1, 512)
    sector = 700
    lines = data[sector].reshape(8, 64)
    stamps = [int.from_bytes(line[:8].tobytes(), "little") for line in lines]
    assert sector * 512 in stamps


def test_scramble_stamps_the_source_as_fio_so_earlier_offsets_stay_in_other_lines() -> None:
    """fio stamps its one write buffer in place before each copy: the line it stamps moves
    with the time, so a later block still holds earlier blocks' offsets in its other lines."""
    data = np.frombuffer(_written(), np.uint8).reshape(-1, 512)
    last = data[-8:]  # the last 4 KiB block's sectors, stamped after 255 earlier blocks
    stamps = {int.from_bytes(line[:8].tobytes(), "little")
              for sector in last for line in sector.reshape(8, 64)}
    earlier = {s for s in stamps if s % 512 == 0 and s < M - 4096}
    assert earlier  # offsets of other blocks' sectors, left by their writes


def test_zero_buffers_and_pattern() -> None:
    assert not any(_written(zero=True, scramble=False))
    assert _written(pattern="dead", scramble=False)[:6] == b"\xde\xad" * 3


def test_refill_gives_every_block_fresh_contents() -> None:
    data = _written(refill=True)
    assert len({data[i:i + 4096] for i in range(0, len(data), 4096)}) == 256


def test_dedupe_percentage_repeats_that_share_of_blocks() -> None:
    """Half of 1024 writes repeat the last unique one (within four binomial standard
    deviations; fio: 50.4% of 4096 blocks); scramble is off with dedupe, as fio's."""
    (job,) = _dedupe_jobs("--name=d")
    blocks = _blocks(_run(job))
    assert abs(1024 - len(blocks) - 512) <= 64
    assert sum(n > 1 for n in blocks.values()) > 200  # each run of repeats: its own content


def test_a_working_set_bounds_the_duplicated_contents() -> None:
    """dedupe_mode=working_set: still half of the writes are duplicates, but every
    duplicated content is one of the working set's 102 blocks (10% of 4 MiB; fio: 406 of
    409 with 16 MiB), the first unique writes."""
    (job,) = _dedupe_jobs("--name=d --dedupe_mode=working_set --dedupe_working_set_percentage=10")
    assert job.buffers.dedupe_working_set_pages == 102
    data = _run(job)
    blocks = _blocks(data)
    assert abs(1024 - len(blocks) - 512) <= 64
    repeated = {content for content, n in blocks.items() if n > 1}
    assert 90 <= len(repeated) <= 102
    first = list(dict.fromkeys(data[i : i + 4096] for i in range(0, len(data), 4096)))[:102]
    assert repeated <= set(first)


def test_dedupe_global_jobs_share_their_working_set() -> None:
    """Two jobs with dedupe_global draw each other's working-set blocks (fio: 406 shared
    contents, each file 45% duplicates, both together 50.1%); without it none is shared."""
    for shared in (True, False):
        a, b = _dedupe_jobs(
            f"--dedupe_mode=working_set --dedupe_working_set_percentage=10 "
            f"--dedupe_global={int(shared)} --name=a --name=b"
        )
        ours, theirs = _blocks(_run(a)), _blocks(_run(b))
        common = set(ours) & set(theirs)
        both = ours + theirs
        assert abs(2048 - len(both) - 1024) <= 90
        if shared:
            assert (a.buffers.dedupe_workers, a.buffers.dedupe_randseeds) == (2, ((1, 0x89),))
            assert 90 <= len(common) <= 102
        else:
            assert not common


def test_a_source_ring_has_distinct_slots_when_refilled() -> None:
    job = make_job(rw="write", size=M, buffers=BufferControls(refill=True))
    source = WriteSource(job, 4096, 1)
    assert source.slots > 1 and len({bytes(row) for row in source.ring}) == source.slots
