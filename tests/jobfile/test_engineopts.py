"""The per-I/O engine options' syntax and fixups (loadgen.jobfile.engineopts)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from loadgen.jobfile.engineopts import parse_pattern
from loadgen.jobfile.values import BadValue
from loadgen.plan import RateProcess, VerifyKind


def test_fio_pattern_examples() -> None:
    assert parse_pattern('"abcd"', True) == (b"abcd", ())
    assert parse_pattern("-1024", True) == (bytes.fromhex("00fcffff"), ())
    assert parse_pattern("66", True) == (b"\x42", ())
    assert parse_pattern('"123"0xFFeeCC', True) == (bytes.fromhex("313233ffeecc"), ())
    assert parse_pattern("%o0xdeadbeef%o", True) == (bytes(8) + bytes.fromhex("deadbeef")
                                                     + bytes(8), (0, 12))
    with pytest.raises(BadValue):
        parse_pattern("%o", False)
    with pytest.raises(BadValue):
        parse_pattern("zz", True)


def test_rate_options_reach_the_job(load_text) -> None:  # type: ignore[no-untyped-def]
    job = load_text("[j]\nsize=1m\nrw=randrw\nrate=1m,2m\nrate_iops=,500\nratemin=1k\n"
                  "rate_process=poisson\nrate_cycle=250\nrate_ignore_thinktime=1\n").jobs[0]
    assert job.rate.rate == (1024 * 1024, 2 * 1024 * 1024)
    assert job.rate.rate_iops == (0, 500) and job.rate.rate_min == (1024, 1024)
    assert job.rate.process is RateProcess.POISSON and job.rate.cycle_ms == 250
    assert job.rate.ignore_thinktime


def test_verify_options_and_fixups(load_text, error_of) -> None:  # type: ignore[no-untyped-def]
    job = load_text("[j]\nsize=1m\nrw=write\nverify_pattern=0xff\n").jobs[0]
    assert job.verify.kind is VerifyKind.PATTERN and job.verify.pattern == "ff"
    job = load_text("[j]\nsize=1m\nrw=write\nverify=md5\nverify_interval=512\n").jobs[0]
    assert job.verify.kind is VerifyKind.MD5 and job.verify.interval == 512
    assert "verify_interval must be at least" in error_of(
        "[j]\nsize=1m\nverify=sha512\nverify_interval=100\n")
    assert "needs verify_pattern" in error_of("[j]\nsize=1m\nverify=pattern\n")


def test_buffer_fixups_follow_fio(load_text) -> None:  # type: ignore[no-untyped-def]
    job = load_text("[j]\nsize=1m\nbuffer_compress_percentage=50\n").jobs[0]
    assert job.buffers.refill and job.buffers.compress_percentage == 50
    job = load_text("[j]\nsize=1m\nbuffer_compress_percentage=50\nrefill_buffers=0\n").jobs[0]
    assert not job.buffers.refill
    job = load_text("[j]\nsize=1m\nbuffer_compress_percentage=100\n").jobs[0]
    assert job.buffers.zero and not job.buffers.compress_percentage
    job = load_text('[j]\nsize=1m\nbuffer_pattern="ab"\n').jobs[0]
    assert job.buffers.pattern == b"ab".hex() and not job.buffers.scramble


def test_dedupe_working_set_follows_fios_checks(one_job, error_of, load_text) -> None:  # type: ignore[no-untyped-def]
    job = one_job("rw=write\nsize=4m\ndedupe_percentage=30\ndedupe_mode=working_set")
    assert job.buffers.dedupe_working_set_pages == 51  # fio's default 5% of 1024 blocks
    assert job.buffers.dedupe_percentage == 30
    assert not one_job("size=4m\ndedupe_percentage=30").buffers.dedupe_working_set_pages
    assert "impossible to reach expected dedupe percentage 60 since 50 percentage" in error_of(
        "[j]\nsize=1m\ndedupe_percentage=60\ndedupe_mode=working_set\n"
        "dedupe_working_set_percentage=50\n")
    assert "holds no block of 4096 bytes" in error_of(
        "[j]\nsize=64k\ndedupe_percentage=50\ndedupe_mode=working_set\n")
    plan = load_text("[global]\nsize=1m\ndedupe_percentage=50\ndedupe_mode=working_set\n"
                     "dedupe_global=1\n[a]\nnumjobs=2\n[b]\nrandseed=7\n[c]\n"
                     "dedupe_global=0\n")
    assert [(j.buffers.dedupe_workers, j.buffers.dedupe_randseeds) for j in plan.jobs] == [
        (4, ((1, 0x89), (3, 7), (4, 0x89)))] * 3 + [(0, ())]  # every worker of the run


def test_verify_state_options_and_verify_async(one_job, notes) -> None:  # type: ignore[no-untyped-def]
    job = one_job("rw=write\nverify=md5")
    assert job.verify.state_save and not job.verify.state_load  # fio's defaults
    job = one_job("rw=write\nverify=md5\nverify_state_save=0\nverify_state_load=1\n"
                  "verify_async=4")
    assert not job.verify.state_save and job.verify.state_load
    # no async verify threads to pin: accepted, the same job (its option listed as given)
    pinned, plain = one_job("rw=write\nverify=md5\nverify_async_cpus=0-1"), one_job(
        "rw=write\nverify=md5")
    assert replace(pinned, job_options=plain.job_options) == plain


def test_verify_write_sequence_is_on_except_for_verify_only(one_job) -> None:  # type: ignore[no-untyped-def]
    assert one_job("rw=write\nverify=md5").verify.write_sequence  # fio's default
    assert not one_job("rw=write\nverify=md5\nverify_write_sequence=0").verify.write_sequence
    assert not one_job("rw=write\nverify=md5\nverify_only=1").verify.write_sequence
    job = one_job("rw=write\nverify=md5\nverify_only=1\nverify_write_sequence=1")
    assert job.verify.write_sequence  # given: fio keeps it (fio_option_is_set)


def test_mem_types_and_their_files(one_job, error_of) -> None:  # type: ignore[no-untyped-def]
    from loadgen.plan import MemKind

    assert one_job("").mem is MemKind.MALLOC
    job = one_job("iomem=mmapshared:/dev/shm/buf\nmem_align=256")
    assert (job.mem, job.mem_file, job.mem_align) == (MemKind.MMAPSHARED, "/dev/shm/buf", 256)
    assert one_job("mem=shmhuge").mem is MemKind.SHMHUGE
    assert "takes no file" in error_of("[j]\nsize=1m\nmem=shm:/x\n")
    assert "is not one of" in error_of("[j]\nsize=1m\nmem=cudamalloc\n")
