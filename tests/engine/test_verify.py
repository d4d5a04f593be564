"""verify: headers and checksums written, read back, a flipped byte found at its offset."""

from __future__ import annotations

import errno
import hashlib
import zlib

import numpy as np
import pytest

from loadgen.engine import runner as runner_module
from loadgen.engine.runner import EngineError
from loadgen.engine.verify import DIGESTS, xxh32
from loadgen.plan import VerifyControls, VerifyKind
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
    """A job that ends on its bytes (norandommap, io_size) ends there with a backlog too."""
    calls = iter(range(100_000))  # a stop long after the job's own end: no hang on regress

    def stop() -> bool:
        return next(calls, None) is None

    for extra, writes in (({"rw": "randwrite", "norandommap": True}, 64),
                          ({"io_size": 128 * K}, 32)):
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
