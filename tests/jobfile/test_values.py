"""fio-reference §1.6: value types, through job files (the way users write them)."""

from __future__ import annotations

import pytest

from loadgen.jobfile.values import split_directions, split_range
from loadgen.plan import BsSplitEntry


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("4096", 4096), ("4k", 4 << 10), ("4K", 4 << 10), ("4kb", 4 << 10), ("4KB", 4 << 10),
        ("4m", 4 << 20), ("4mb", 4 << 20), ("2g", 2 << 30), ("1t", 1 << 40), ("1p", 1 << 50),
        ("4kib", 4000), ("4KiB", 4000), ("4mib", 4_000_000), ("1gib", 10**9),  # inverted
        ("100b", 100), ("0x1000", 4096), ("0x10k", 16 << 10), ("1.5k", 1536),
    ],
)
def test_size_suffixes_kb_base_1024(one_job, value, size):
    assert one_job(f"io_size={value}").io_size == size


@pytest.mark.parametrize(
    ("value", "size"), [("4k", 4000), ("4m", 4_000_000), ("4kib", 4096), ("1mib", 1 << 20)]
)
def test_kb_base_1000_flips_the_suffixes(one_job, value, size):
    assert one_job(f"kb_base=1000\nio_size={value}").io_size == size


def test_kb_base_applies_first_within_a_section_but_not_to_earlier_globals(load_text):
    plan = load_text("[global]\nio_size=1k\n[a]\nsize=1m\nbs=1k\nkb_base=1000\n")
    (job,) = plan.jobs
    assert job.io_size == 1024  # parsed in [global] with kb_base=1024
    assert job.bs_min == (1000, 1000)  # kb_base (prio 1) is applied before bs
    assert job.kb_base == 1000


@pytest.mark.parametrize("value", ["4q", "10 foo", "1g,2g", "", "-1", "k"])
def test_bad_sizes_are_errors_unlike_fios_silent_truncation(error_of, value):
    assert f"job.fio:3: io_size={value}: " in error_of(f"[j]\nsize=1m\nio_size={value}\n")


def test_size_error_says_what_is_wrong(error_of):
    assert error_of("[j]\nsize=1m\nio_size=10 foo\n").endswith(
        "io_size=10 foo: unexpected 'foo' in '10 foo'"
    )


def test_percentages(one_job, error_of):
    job = one_job("io_size=50%\noffset=25%\noffset_increment=10%")
    assert (job.io_size, job.offset, job.offset_percent, job.offset_increment) == (
        512 << 10, 0, 25, (1 << 20) // 10)
    assert "out of range (0..100)" in error_of("[j]\nsize=1m\nio_size=101%\n")
    assert "size=50%: a percentage is not allowed here" in error_of("[j]\nsize=50%\n")


@pytest.mark.parametrize(
    ("text", "field", "ns"),
    [
        ("runtime=10", "runtime_ns", 10 * 10**9),
        ("runtime=10s", "runtime_ns", 10 * 10**9),
        ("timeout=2m", "runtime_ns", 120 * 10**9),
        ("runtime=1h", "runtime_ns", 3600 * 10**9),
        ("runtime=1d", "runtime_ns", 86400 * 10**9),
        ("runtime=500ms", "runtime_ns", 500 * 10**6),
        ("runtime=500msec", "runtime_ns", 500 * 10**6),
        ("runtime=20us", "runtime_ns", 20_000),
        ("runtime=20usec", "runtime_ns", 20_000),
        ("ramp_time=3", "ramp_time_ns", 3 * 10**9),
        ("thinktime=10", "thinktime_ns", 10_000),  # thinktime's default unit is us
        ("thinktime_spin=1ms", "thinktime_spin_ns", 10**6),
    ],
)
def test_time_values(one_job, text, field, ns):
    assert getattr(one_job(text), field) == ns


def test_startdelay_value_or_range_swapped(one_job):
    assert one_job("startdelay=2").startdelay_ns == (2 * 10**9, 2 * 10**9)
    assert one_job("startdelay=5-1").startdelay_ns == (10**9, 5 * 10**9)
    assert one_job("startdelay=100ms:1s").startdelay_ns == (10**8, 10**9)


def test_range_splitting():
    assert split_range("16k-1M") == ("16k", "1M")
    assert split_range("4k:8k") == ("4k", "8k")
    assert split_range("(8k-4k)-16k") == ("(8k-4k)", "16k")
    assert split_range("4096") is None
    assert split_range("-5") is None


def test_bsrange_lo_hi_swapped_and_per_direction(one_job, error_of):
    assert one_job("bsrange=1M-16k").bs_min == (16384, 16384)
    job = one_job("bsrange=4k-8k,16k:32k")
    assert (job.bs_min, job.bs_max) == ((4096, 16384), (8192, 32768))
    assert "is not a range" in error_of("[j]\nsize=1m\nbsrange=4k\n")


def test_per_direction_carry_on_rule():
    assert split_directions("8k") == ["8k", "8k", "8k"]
    assert split_directions("8k,32k") == ["8k", "32k", "32k"]
    assert split_directions("8k,32k,") == ["8k", "32k", None]
    assert split_directions(",8k") == [None, "8k", "8k"]
    assert split_directions("8k,") == ["8k", None, None]


def test_bs_lists_in_jobs(one_job, error_of):
    assert one_job("bs=8k,32k").bs_min == (8192, 32768)
    assert one_job("bs=16k\nbs=,8k").bs_min == (16384, 8192)
    assert "at most 3" in error_of("[j]\nsize=1m\nbs=1k,2k,3k,4k\n")
    assert "out of range" in error_of("[j]\nsize=1m\nbs=0\n")


def test_bssplit_remainder_sorting_and_limits(one_job, error_of):
    job = one_job("bssplit=64k/50:4k/10:32k")
    assert job.bssplit[0] == (
        BsSplitEntry(4096, 10),
        BsSplitEntry(32768, 40),
        BsSplitEntry(65536, 50),
    )
    assert job.bssplit[1] == job.bssplit[0]
    assert (job.bs_min, job.bs_max) == ((4096, 4096), (65536, 65536))
    shared = one_job("bssplit=4k/0:8k:16k/40").bssplit[0]
    assert [entry.pct for entry in shared] == [30, 30, 40]
    two = one_job("bssplit=4k/100,8k/50:16k/50")
    assert two.bssplit[0] == (BsSplitEntry(4096, 100),)
    assert [e.bs for e in two.bssplit[1]] == [8192, 16384]
    assert "more than 100" in error_of("[j]\nsize=1m\nbssplit=4k/60:8k/60\n")
    many = ":".join(["4k/1"] * 65)
    assert "at most 64" in error_of(f"[j]\nsize=1m\nbssplit={many}\n")


def test_bool_needs_a_number(one_job, error_of):
    assert one_job("randrepeat=0").randrepeat is False
    assert one_job("clat_percentiles= 0").clat_percentiles is False
    assert "is not 0 or 1" in error_of("[j]\nsize=1m\nrandrepeat=true\n")
    assert error_of("[j]\nsize=1m\nrandrepeat\n").endswith(
        "job.fio:3: option 'randrepeat' needs a value (randrepeat=...)")


def test_set_flags_bare_or_number(one_job):
    assert one_job("time_based\nruntime=1").time_based is True
    assert one_job("norandommap=1").norandommap is True
    assert one_job("thread\nthread=0").thread is False


def test_enums_match_exactly(one_job, error_of):
    assert one_job("cpus_allowed_policy=split").cpus_allowed_policy == "split"
    assert "is not one of" in error_of("[j]\nsize=1m\nrw=rand\n")
    assert "is not one of" in error_of("[j]\nsize=1m\nrw=RandRead\n")
    assert "is not one of" in error_of("[j]\nsize=1m\nrandom_generator=taus\n")


def test_rw_postfix_and_aliases(one_job, error_of):
    assert (one_job("rw=randread:8").rw, one_job("rw=randread:8").rw_postfix) == ("randread", 8)
    assert one_job("rw=write:4k").rw_postfix == 4096
    assert one_job("readwrite=readwrite").rw == "rw"
    assert "out of range" in error_of("[j]\nsize=1m\nrw=randrw:0\n")


@pytest.mark.parametrize("mode", ["trim", "randtrim", "trimwrite", "randtrimwrite"])
def test_trim_modes_are_rejected_clearly(error_of, mode):
    assert error_of(f"[j]\nsize=1m\nrw={mode}\n").endswith(
        f"job.fio:3: rw={mode}: trim is not supported: anonymous memory cannot be trimmed "
        "(fio's page_fault engine fails every trim with EINVAL)")


def test_log_options_bare_in_file_default_to_job_name(one_job, load_text):
    job = one_job("write_bw_log\nwrite_lat_log=pfx\nwrite_hist_log=")
    assert (job.write_bw_log, job.write_lat_log, job.write_iops_log, job.write_hist_log) == (
        "job", "pfx", "", "job")


def test_log_options_need_a_value_on_the_command_line(load_text):
    from loadgen.errors import InputError

    with pytest.raises(InputError, match="needs a value"):
        load_text("", "--name=x", "--size=1m", "--write_bw_log")


def test_percentile_list(one_job, error_of):
    assert one_job("percentile_list=99.9:50:1").percentile_list == (99.9, 50.0, 1.0)
    assert "at most 20" in error_of("[j]\nsize=1m\npercentile_list=" + ":".join(["1"] * 21) + "\n")
    assert "out of range" in error_of("[j]\nsize=1m\npercentile_list=101\n")


def test_cpu_lists_and_masks(one_job, error_of):
    assert one_job("cpus_allowed=1,0").cpus_allowed == (0, 1)
    assert one_job("cpus_allowed=0-1").cpus_allowed == (0, 1)
    assert one_job("cpumask=0x2").cpus_allowed == (1,)
    assert "CPU 2 too large" in error_of("[j]\nsize=1m\ncpus_allowed=0-2\n")
    assert "CPU 5 too large" in error_of("[j]\nsize=1m\ncpumask=0x20\n")


# Python's int(), float(), str.isdigit() and the regex \d take any Unicode digit ("１" is
# U+FF11 FULLWIDTH DIGIT ONE); fio's strtoll takes ASCII only, so a full-width value is
# refused, through the whole command line as a user runs it
@pytest.mark.parametrize(("line", "char"), [
    ("size=１m", "１"),
    ("bs=４k", "４"),
    ("numjobs=２", "２"),
    ("thinktime=１０", "１"),
    ("rwmixread=５0", "５"),
    ("time_based=１", None),  # a bool
    ("size=1٣m", "٣"),  # ARABIC-INDIC DIGIT THREE
])
def test_only_ascii_digits_make_numbers(tmp_path, line, char):
    import os
    import subprocess
    import sys
    from pathlib import Path

    jobfile = tmp_path / "job.fio"
    jobfile.write_text(f"[a]\nioengine=page_fault\nrw=randrw\nsize=1m\n{line}\n")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "loadgen", "plan", str(jobfile)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert (done.returncode, done.stdout) == (2, "")
    (message,) = done.stderr.splitlines()
    assert message.startswith(f"{jobfile}:5: {line}: ")
    assert char is None or f"unexpected character {char!r}" in message
