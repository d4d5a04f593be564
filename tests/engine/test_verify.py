"""verify: headers and checksums written, read back, a flipped byte found at its offset."""

from __future__ import annotations

import errno
import hashlib
import zlib
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine import runner as runner_module
from loadgen.engine.runner import EngineError
from loadgen.engine.verify import DIGESTS, Verifier, xxh32
from loadgen.plan import Backing, MemoryControls, VerifyControls, VerifyKind
from tests.engine.conftest import make_job, run_job

K = 1024
M = 1024 * 1024


@pytest.fixture(autouse=True)
def _in_tmp(in_tmp: object) -> None:
    """Write jobs with verify leave fio's verify state file in the working directory."""


def _verify_job(kind: VerifyKind, **kw: object) -> object:
    controls = kw.pop("controls", VerifyControls(kind=kind))
    return make_job(rw=kw.pop("rw", "write"), size=kw.pop("size", 1 * M), verify=controls, **kw)


@pytest.mark.parametrize("kind", [k for k in VerifyKind if k not in (
    VerifyKind.NONE, VerifyKind.PATTERN, VerifyKind.PATTERN_HDR)])
def test_a_clean_write_job_verifies_and_counts_the_reads(kind: VerifyKind) -> None:
    res = run_job(_verify_job(kind))  # type: ignore[arg-type]
    assert res.ios == (256, 256)  # fio counts the verify phase's reads


def _flip_before_verify(monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    real = runner_module._Run._verify_phase

    def flipped(self: runner_module._Run) -> None:
        assert self.verifier is not None
        self.verifier.mem[at] ^= 0x40
        real(self)

    monkeypatch.setattr(runner_module._Run, "_verify_phase", flipped)


@pytest.mark.parametrize("kind", [VerifyKind.MD5, VerifyKind.CRC32C, VerifyKind.SHA256,
                                  VerifyKind.XXHASH, VerifyKind.CRC64])
def test_a_flipped_byte_is_found_and_named_at_its_block(
        monkeypatch: pytest.MonkeyPatch, kind: VerifyKind) -> None:
    _flip_before_verify(monkeypatch, 3 * 4096 + 1000)
    with pytest.raises(EngineError) as exc:
        run_job(_verify_job(kind))  # type: ignore[arg-type]
    assert exc.value.errno == errno.EILSEQ
    text = str(exc.value)
    assert text.startswith(f"{kind.value}: verify failed at file t offset 12288, length 4096")
    assert "Expected CRC: " in text and "Received CRC: " in text


def test_a_flipped_pattern_byte_is_named_at_its_exact_offset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _flip_before_verify(monkeypatch, 5 * 4096 + 77)
    controls = VerifyControls(kind=VerifyKind.PATTERN, pattern="deadbeef")
    with pytest.raises(EngineError) as exc:
        run_job(_verify_job(VerifyKind.PATTERN, controls=controls))  # type: ignore[arg-type]
    assert "wanted 'ad'" in str(exc.value) and f"offset {5 * 4096 + 77}," in str(exc.value)


def test_a_broken_header_offset_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _flip_before_verify(monkeypatch, 2 * 4096 + 16)  # the header's offset field
    with pytest.raises(EngineError, match="bad header"):
        run_job(_verify_job(VerifyKind.META))  # type: ignore[arg-type]


def test_verify_fatal_stops_at_the_first_bad_block(monkeypatch: pytest.MonkeyPatch) -> None:
    _flip_before_verify(monkeypatch, 1000)
    controls = VerifyControls(kind=VerifyKind.MD5, fatal=True)
    with pytest.raises(EngineError):
        run_job(_verify_job(VerifyKind.MD5, controls=controls))  # type: ignore[arg-type]


def test_backlog_verifies_during_the_writes_and_no_do_verify_skips_the_phase() -> None:
    backlog = VerifyControls(kind=VerifyKind.CRC32C, backlog=16, do_verify=False)
    res = run_job(_verify_job(VerifyKind.CRC32C, controls=backlog))  # type: ignore[arg-type]
    assert res.ios == (256, 256)
    both = VerifyControls(kind=VerifyKind.CRC32C, backlog=16)
    res = run_job(_verify_job(VerifyKind.CRC32C, controls=both))  # type: ignore[arg-type]
    assert res.ios == (256, 256)  # what a backlog verified is not read again (fio)
    none = VerifyControls(kind=VerifyKind.CRC32C, do_verify=False)
    assert run_job(_verify_job(VerifyKind.CRC32C, controls=none)).ios == (0, 256)  # type: ignore[arg-type]


def test_backlog_reads_leave_the_writes_budget_alone() -> None:
    """A job that ends on its bytes (norandommap, io_size) ends there with a backlog too;
    a block written twice before a backlog check is checked at its latest write only (fio
    drops the older from its list), so its write number holds."""
    calls = iter(range(100_000))  # a stop long after the job's own end: no hang on regress

    def stop() -> bool:
        return next(calls, None) is None

    for extra, writes in (
        ({"rw": "randwrite", "norandommap": True}, 64),
        ({"io_size": 128 * K}, 32),
    ):
        controls = VerifyControls(kind=VerifyKind.CRC32C, backlog=16)
        job = _verify_job(VerifyKind.CRC32C, controls=controls, size=256 * K, **extra)
        assert run_job(job, stop=stop).ios[1] == writes  # type: ignore[arg-type]


def test_verify_interval_puts_a_header_in_each_interval() -> None:
    controls = VerifyControls(kind=VerifyKind.MD5, interval=512, offset=64)
    job = _verify_job(VerifyKind.MD5, controls=controls)
    runner = runner_module.JobRunner(job)  # type: ignore[arg-type]
    runner.setup()
    try:
        runner.run(lambda d: None, 10**12, lambda: False)
        assert runner.verifier is not None
        mem = runner.verifier.mem
        starts = np.arange(0, 1 * M, 512) + 64
        magic = mem[starts].astype(np.int64) | (mem[starts + 1].astype(np.int64) << 8)
        assert np.all(magic == 0xACCA)
    finally:
        runner.close()


def test_checksums_match_the_references() -> None:
    data = np.frombuffer(b"123456789", dtype=np.uint8)
    assert DIGESTS[VerifyKind.CRC32C]([data]) == (0xE3069283).to_bytes(4, "little")
    assert DIGESTS[VerifyKind.CRC64]([data]) == (0x995DC9BBDF1939FA).to_bytes(8, "little")
    assert DIGESTS[VerifyKind.CRC16]([data]) == (0xBB3D).to_bytes(2, "little")
    assert DIGESTS[VerifyKind.CRC7]([data]) == bytes([0x75])
    assert DIGESTS[VerifyKind.CRC32]([data]) == zlib.crc32(b"123456789").to_bytes(4, "little")
    assert DIGESTS[VerifyKind.MD5]([data[:4], data[4:]]) == hashlib.md5(b"123456789").digest()
    assert xxh32(np.frombuffer(b"", np.uint8), 0) == 0x02CC5D05
    assert xxh32(np.frombuffer(b"abc", np.uint8), 0) == 0x32D153FF
    long = np.frombuffer(b"Nobody inspects the spammish repetition", np.uint8)
    assert xxh32(long, 0) == 0xE2293B2F


def _stale_block(job: object) -> list[str]:
    """Block 0 written twice (writes 0 and 2), then the first write's bytes put back: its
    checksum is good, its write number is not the latest."""
    mem = np.zeros(16 * K, dtype=np.uint8)
    verifier = Verifier(job, mem)  # type: ignore[arg-type]
    offs, lens, dirs = (np.array(a, dtype=np.int64) for a in ([0, 4096, 0], [4096] * 3, [1, 1, 1]))
    verifier.stamp(offs[:1], lens[:1], dirs[:1])
    first = mem[:4096].copy()
    verifier.stamp(offs[1:], lens[1:], dirs[1:])
    mem[:4096] = first
    verifier.check(*verifier.pending())
    return [bad.message for bad in verifier.mismatches]


@pytest.mark.parametrize("kind", [VerifyKind.CRC64, VerifyKind.META, VerifyKind.MD5])
def test_a_block_holding_an_older_write_fails_only_with_verify_write_sequence(
    kind: VerifyKind,
) -> None:
    on = _verify_job(kind, controls=VerifyControls(kind=kind))
    assert _stale_block(on) == [  # fio's words
        "verify: bad header numberio 0, wanted 2 at file t offset 0, length 4096 "
        "(requested block: offset=0, length=4096)"
    ]
    off = _verify_job(kind, controls=VerifyControls(kind=kind, write_sequence=False))
    assert _stale_block(off) == []  # the checksum still holds


def test_the_write_number_is_not_checked_where_fio_cannot_know_it() -> None:
    controls = VerifyControls(kind=VerifyKind.CRC64)
    timed = _verify_job(VerifyKind.CRC64, controls=controls, time_based=True, runtime_ns=10**9)
    assert _stale_block(timed) == []
    sizes = {"bs_min": (4096, 4096), "bs_max": (8192, 8192)}  # more than one block size
    assert _stale_block(_verify_job(VerifyKind.CRC64, controls=controls, **sizes)) == []


def test_verify_only_checks_the_write_numbers_when_asked(in_tmp: Path) -> None:
    """A file written in random order, verified as a sequential write: every checksum
    holds, the write numbers (fio's phantom writes count 0, 1, ...) do not."""
    data = in_tmp / "data.bin"
    data.write_bytes(bytes(256 * K))  # kept after the jobs: it existed
    mm = MemoryControls(backing=Backing.FILE, filename=str(data))
    written = VerifyControls(kind=VerifyKind.CRC32C, state_save=False)
    run_job(_verify_job(VerifyKind.CRC32C, rw="randwrite", size=256 * K, mm=mm, controls=written))  # type: ignore[arg-type]
    quiet = VerifyControls(kind=VerifyKind.CRC32C, only=True, write_sequence=False)
    quiet_job = _verify_job(VerifyKind.CRC32C, size=256 * K, mm=mm, controls=quiet)
    assert run_job(quiet_job).ios == (64, 0)  # type: ignore[arg-type]
    checked = VerifyControls(kind=VerifyKind.CRC32C, only=True)
    checked_job = _verify_job(VerifyKind.CRC32C, size=256 * K, mm=mm, controls=checked)
    wanted = r"^verify: bad header numberio \d+, wanted 0 at file t offset 0, length 4096"
    with pytest.raises(EngineError, match=wanted):
        run_job(checked_job)  # type: ignore[arg-type]
