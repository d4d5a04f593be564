"""fio-reference §1.7 (globals, files, command line) and §2.6 (numjobs, groups), plus fixups."""

from __future__ import annotations

from pathlib import Path
from typing import get_type_hints

import pytest

from loadgen.errors import InputError
from loadgen.jobfile.options import State
from loadgen.jobfile.resolve import COMPUTED, COPIED
from loadgen.plan import Job
from tests.test_blktrace import trace_bytes

from .conftest import FACTS
from .plans import load


def _load(*argv: str):
    return load(list(argv), facts=FACTS, environ={}, note=lambda message: None)[0]


def test_job_is_a_copy_of_the_template_at_its_section(load_text):
    plan = load_text("[global]\nsize=1m\nbs=8k\n[a]\n[global]\nbs=16k\n[b]\n[c]\nbs=4k\n")
    assert [(job.name, job.bs_min[0]) for job in plan.jobs] == [
        ("a", 8192),
        ("b", 16384),
        ("c", 4096),
    ]


def test_job_options_override_globals_and_are_listed_per_section(load_text):
    plan = load_text("[global]\nsize=1m\nrw=read\n[a]\nrw=write\n")
    (job,) = plan.jobs
    assert job.rw == "write"
    assert job.job_options == (("rw", "write"),)
    assert plan.global_options == (("size", "1m"), ("rw", "read"))


def test_name_option_renames_the_job(load_text):
    assert load_text("[a]\nsize=1m\nname=b\n").jobs[0].name == "b"


def test_later_files_start_from_fresh_globals_with_an_implicit_stonewall(tmp_path: Path):
    first = tmp_path / "1.fio"
    second = tmp_path / "2.fio"
    first.write_text("[global]\nsize=1m\nbs=8k\n[a]\n[b]\n")
    second.write_text("[global]\nsize=2m\n[c]\n[d]\n")
    plan = _load(str(first), str(second))
    assert [(job.name, job.group_id, job.bs_min[0], job.stonewall) for job in plan.jobs] == [
        ("a", 0, 8192, False), ("b", 0, 8192, False), ("c", 1, 4096, True), ("d", 1, 4096, False)]
    assert plan.files == (str(first), str(second))


def test_globals_of_a_later_file_need_their_own_size(tmp_path: Path):
    first = tmp_path / "1.fio"
    second = tmp_path / "2.fio"
    first.write_text("[global]\nsize=1m\n[a]\n")
    second.write_text("[c]\n")
    with pytest.raises(InputError, match=r"2.fio:1: job 'c': you need to specify size="):
        _load(str(first), str(second))


def test_command_line_jobs(tmp_path: Path):
    plan = _load("--size=1m", "--name=x", "--rw=write", "--name=y", "--bs", "8k", "--numjobs=2")
    assert [(job.name, job.rw, job.bs_min[0], job.subjob) for job in plan.jobs] == [
        ("x", "write", 4096, 0), ("y", "read", 8192, 0), ("y", "read", 8192, 1)]
    assert plan.jobs[0].job_options == (("name", "x"), ("rw", "write"))
    assert plan.global_options == ()  # as fio's "global options": job-file globals only
    assert plan.jobs[0].source == "command line"


def test_name_global_opens_a_global_section_on_the_command_line():
    plan = _load("--name=a", "--size=1m", "--name=global", "--size=2m", "--name=b")
    assert [(job.name, job.size) for job in plan.jobs] == [("a", 1 << 20), ("b", 2 << 20)]


def test_command_line_jobs_come_first_and_their_globals_reach_the_first_file(tmp_path: Path):
    path = tmp_path / "f.fio"
    path.write_text("[filejob]\n")
    plan = _load(str(path), "--size=1m", "--name=cli")
    assert [(job.name, job.thread_number, job.size) for job in plan.jobs] == [
        ("cli", 1, 1 << 20), ("filejob", 2, 1 << 20)]


def test_section_filter_applies_to_command_line_jobs():
    plan = _load("--size=1m", "--name=a", "--name=b", "--section=b")
    assert [job.name for job in plan.jobs] == ["b"]


def test_no_jobs_is_an_error():
    with pytest.raises(InputError, match="no jobs defined"):
        _load("--size=1m")


def test_numjobs_clone_numbering_and_thread_numbers(load_text):
    plan = load_text("[a]\nsize=1m\n[b]\nsize=1m\nnumjobs=4\noffset_increment=128k\n[c]\nsize=1m\n")
    rows = [(job.name, job.subjob, job.thread_number, job.numjobs) for job in plan.jobs]
    assert rows == [("a", 0, 1, 1), ("b", 0, 2, 4), ("b", 3, 3, 4), ("b", 2, 4, 4), ("b", 1, 5, 4),
                    ("c", 0, 6, 1)]
    assert len(plan.groups) == 1


def test_stonewall_in_global_gives_every_job_its_group_and_clones_share_it(load_text):
    plan = load_text("[global]\nsize=1m\nstonewall\n[a]\n[b]\nnumjobs=3\n[c]\n")
    assert [(g.id, [j.name for j in g.jobs]) for g in plan.groups] == [
        (0, ["a"]), (1, ["b", "b", "b"]), (2, ["c"])]
    assert [job.stonewall for job in plan.groups[1].jobs] == [True, False, False]


def test_new_group_and_first_job_rules(load_text):
    plan = load_text(
        "[a]\nsize=1m\nstonewall\n[b]\nsize=1m\n[c]\nsize=1m\nnew_group\n[d]\nsize=1m\n"
        "[e]\nsize=1m\nstonewall=0\n"
    )
    assert [(job.name, job.group_id) for job in plan.jobs] == [
        ("a", 0), ("b", 0), ("c", 1), ("d", 1), ("e", 1)]


def test_group_reporting_is_carried(load_text):
    plan = load_text("[global]\nsize=1m\ngroup_reporting\n[a]\nnumjobs=2\n")
    assert all(job.group_reporting for job in plan.jobs)


def test_too_many_workers_is_an_error(error_of):
    assert "at most 4096" in error_of("[a]\nsize=1m\nnumjobs=4096\n[b]\nsize=1m\n")
    assert "out of range (1..4096)" in error_of("[a]\nsize=1m\nnumjobs=4097\n")
    assert "out of range" in error_of("[a]\nsize=1m\nnumjobs=0\n")


def test_blockalign_is_reset_to_min_bs_for_sequential_io(load_text):
    plan = load_text("[global]\nsize=4m\nbsrange=16k-1M\nblockalign=2M\n[seq]\nrw=write\n"
                     "[rand]\nrw=randwrite\n[mix]\nrw=rw\n[unset]\nrw=randread\nblockalign=,\n")
    assert [job.blockalign for job in plan.jobs] == [
        (16384, 16384), (2 << 20, 2 << 20), (16384, 16384), (2 << 20, 2 << 20)]


def test_random_job_without_blockalign_aligns_to_min_bs(one_job):
    assert one_job("rw=randrw\nbs=8k,16k").blockalign == (8192, 16384)


def test_size_checks(error_of):
    assert error_of("[a]\nrw=write\n").endswith(
        "job.fio:1: job 'a': you need to specify size= (the region to map)"
    )
    assert "size=4096 is smaller than the minimum block size 8192" in error_of(
        "[a]\nsize=4k\nbs=8k\n"
    )
    assert "out of range" in error_of("[a]\nsize=0\n")


def test_io_size_and_offset_increment_percentages_resolve_against_size(one_job):
    job = one_job("io_size=200k\noffset_increment=50%")
    assert (job.io_size, job.offset_increment, job.bytes_per_pass) == (
        200 << 10,
        512 << 10,
        200 << 10,
    )


def test_time_based_without_runtime_is_disabled_with_a_note(one_job, notes):
    assert one_job("time_based").time_based is False
    assert "time_based needs runtime=" in notes[0]
    assert one_job("time_based\nruntime=2").time_based is True


def test_ramp_size_and_ramp_time_are_exclusive_as_in_fio(one_job, error_of):
    assert one_job("ramp_size=64k").ramp_size == 65536
    assert error_of("[a]\nsize=1m\nramp_size=64k\nramp_time=1\n").endswith(
        "job.fio:1: job 'a': job rejected: cannot specify both ramp_time and ramp_size (as fio)")
    assert "out of range" in error_of("[a]\nsize=1m\nramp_size=0\n")


def test_a_group_agrees_on_ramp_size_as_in_fio(load_text, error_of):
    """fio checks a job with a ramp against the earlier jobs of its group (itself too)."""
    base = "[global]\nsize=1m\n"
    assert error_of(base + "[a]\nramp_size=64k\n[b]\nramp_size=128k\n").endswith(
        "job.fio:5: job 'b': job rejected: inconsistent ramp_size within reporting group "
        "('a' has 65536, this job 131072)")
    assert "inconsistent ramp_size" in error_of(base + "[a]\n[b]\nramp_time=1\n[c]\n"
                                                "ramp_size=4k\n")
    # a later job without any ramp is not checked; another group is another count
    assert len(load_text(base + "[a]\nramp_size=64k\n[b]\n").jobs) == 2
    assert len(load_text(base + "[a]\nramp_size=64k\n[b]\nstonewall\nramp_size=4k\n"
                         "[c]\nnumjobs=2\nramp_size=4k\n").jobs) == 4


def test_log_store_compressed_keeps_the_hist_log_text_with_a_note(one_job, notes):
    job = one_job("write_lat_log=a\nwrite_hist_log=a\nlog_store_compressed=1\n"
                  "log_compression=64k\nlog_compression_cpus=0")
    assert job.log_store_compressed and job.log_compression == 65536
    assert [note.split(": note: ")[1] for note in notes] == [
        "job 'job': log_store_compressed: the histogram log is written as text (fio's "
        "compressed one holds memory addresses, not buckets)"]


def test_source_points_at_the_section_header(load_text):
    plan = load_text("; x\n[a]\nsize=1m\n")
    assert plan.jobs[0].source.endswith("job.fio:2")


def test_defaults_of_a_minimal_job(one_job):
    job = one_job("")
    assert (job.rw, job.rwmixread, job.loops, job.randrepeat, job.randseed, job.bwavgtime_ms,
            job.clat_percentiles, job.per_job_logs, job.kb_base, job.unit_base) == (
        "read", 50, 1, True, 0x89, 500, True, True, 1024, 8)


def test_a_job_of_defaults_is_the_job_dataclass_with_its_defaults():
    """The option table's defaults and the Job dataclass's agree: a job that sets nothing
    but its size resolves to ``Job(...)`` with only the identifying fields given."""
    (job,) = _load("--name=x", "--size=64k").jobs
    expected = Job(name="x", thread_number=1, subjob=0, numjobs=1, group_id=0, size=65536,
                   job_options=job.job_options, source=job.source)
    assert job == expected


def test_copied_fields_have_the_same_type_in_the_state_and_the_job():
    state_types, job_types = get_type_hints(State), get_type_hints(Job)
    assert set(COPIED) <= set(state_types)
    assert {f: state_types[f] for f in COPIED} == {f: job_types[f] for f in COPIED}
    assert set(job_types) >= COMPUTED


REPLAY_LOG = ("fio version 3 iolog\n0 f add\n0 f open\n10 f read 1048576 8192\n"
              "20 f write 0 4096\n30 f close\n")


def test_read_iolog_sizes_the_region_and_the_pass_by_the_log(tmp_path, load_text, notes):
    (tmp_path / "trace.log").write_text(REPLAY_LOG)
    plan = load_text(f"[r]\nread_iolog={tmp_path / 'trace.log'}\nwrite_iolog=again.log\n")
    (job,) = plan.jobs
    # the region reaches the log's furthest I/O; a pass is the log's bytes (fio adds each
    # I/O's length to size); the directions are the log's; write_iolog is dropped, as fio
    assert (job.size, job.io_size, job.rw) == (1048576 + 8192, 12288, "rw")
    assert job.write_iolog == "" and job.read_iolog == str(tmp_path / "trace.log")
    assert any("read_iolog overrides write_iolog" in note for note in notes)
    bigger = load_text(f"[r]\nsize=4m\nread_iolog={tmp_path / 'trace.log'}\n").jobs[0]
    assert bigger.size == 4 << 20


def test_replay_options_reach_the_job(tmp_path, one_job):
    (tmp_path / "trace.log").write_text(REPLAY_LOG)
    job = one_job(f"read_iolog={tmp_path / 'trace.log'}\nreplay_no_stall=1\n"
                  "replay_time_scale=50\nreplay_scale=2\nreplay_align=4k\nreplay_skip=write\n"
                  "read_iolog_chunked=1")
    assert (job.replay_no_stall, job.replay_time_scale, job.replay_scale, job.replay_align,
            job.replay_skip, job.read_iolog_chunked) == (True, 50, 2, 4096, ("write",), True)
    assert (job.io_size, job.rw) == (8192, "read")  # the write was skipped


def test_a_bad_log_is_its_file_and_line(tmp_path, error_of):
    log = tmp_path / "bad.log"
    log.write_text("fio version 2 iolog\nf add\nf read 0 4096\nf raed 4096 4096\n")
    assert error_of(f"[r]\nread_iolog={log}\n") == (
        f"{log}:4: bad iolog action 'raed' (read, write, trim, sync, datasync or wait)")
    assert "No such file" in error_of(f"[r]\nread_iolog={tmp_path / 'missing.log'}\n")
    (tmp_path / "empty.log").write_text("fio version 2 iolog\nf add\n")
    assert "has no I/O to replay" in error_of(f"[r]\nread_iolog={tmp_path / 'empty.log'}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("replay_align=3000", "not a power of two"),
        ("replay_skip=read,flush", "unknown skip type 'flush'"),
        ("replay_time_scale=0", "out of range"),
    ],
)
def test_replay_option_errors(error_of, text, message):
    assert message in error_of(f"[r]\nsize=1m\n{text}\n")


def test_a_blktrace_replay_and_a_merge_of_two(tmp_path, load_text, error_of):
    """read_iolog of a blktrace; with merge_blktrace_file, read_iolog=A:B is merged into
    it when the job file is read and the job replays the merged trace."""
    (tmp_path / "a.bin").write_bytes(trace_bytes([("write", 0, 4096), ("write", 4096, 4096)]))
    (tmp_path / "b.bin").write_bytes(trace_bytes([("read", 65536, 8192)]))
    (job,) = load_text(f"[r]\nread_iolog={tmp_path / 'a.bin'}\n").jobs
    assert (job.size, job.io_size, job.rw) == (8192, 8192, "write")
    merged = tmp_path / "m.bin"
    (job,) = load_text(f"[r]\nread_iolog={tmp_path / 'a.bin'}:{tmp_path / 'b.bin'}\n"
                       f"merge_blktrace_file={merged}\nmerge_blktrace_iters=3:1\n").jobs
    assert job.read_iolog == str(merged) and merged.stat().st_size == 7 * 48
    assert (job.size, job.io_size, job.rw) == (65536 + 8192, 6 * 4096 + 8192, "rw")
    assert error_of(f"[r]\nsize=1m\nmerge_blktrace_file={merged}\n").endswith(
        "job 'r': merge_blktrace_file merges the traces of read_iolog=A:B:..., and there "
        "is none")
    assert error_of(f"[r]\nread_iolog={tmp_path / 'a.bin'}:{tmp_path / 'b.bin'}\n"
                    f"merge_blktrace_file={merged}\nmerge_blktrace_scalars=50\n").endswith(
        "job 'r': merge_blktrace_file: merge_blktrace_scalars(1) != nr_logs(2) (as fio)")
    assert "no such file" in error_of(f"[r]\nread_iolog={tmp_path / 'zz'}\n"
                                      f"merge_blktrace_file={merged}\n").lower()


def test_replay_redirect_is_a_documented_no_op(one_job, notes):
    one_job("replay_redirect=/dev/sdx")
    assert any("replay_redirect=/dev/sdx has no effect" in note for note in notes)
