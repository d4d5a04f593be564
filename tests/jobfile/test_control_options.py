"""fio's run-control, priority, placement and sync options: how they parse into a Job."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import pytest

from loadgen.jobfile.substitute import SystemFacts
from tests.jobfile.plans import load


def test_exitall_is_set_by_any_value_as_fio_does(one_job, notes):
    assert one_job("exitall").exitall
    assert one_job("exitall=0").exitall  # fio's callback sets its global flag either way
    assert notes[-1].endswith("note: exitall=0 still turns exitall on, as in fio")
    assert not one_job("").exitall
    assert one_job("exitall_on_error").exitall_on_error


@pytest.mark.parametrize("text", ["group", "stonewall", "all"])
def test_exit_what_values(one_job, text):
    assert one_job(f"exit_what={text}").exit_what == text


def test_exit_what_rejects_others(error_of):
    message = error_of("[j]\nsize=1m\nexit_what=some\n")
    assert "'some' is not one of: group, stonewall, all" in message


def test_run_control_fields(one_job):
    job = one_job("stats=0\nexec_prerun=echo a && echo b\nexec_postrun=sync\ncontinue_on_error=1")
    assert (job.stats, job.exec_prerun, job.exec_postrun, job.continue_on_error) == (
        False, "echo a && echo b", "sync", "all")
    assert one_job("continue_on_error=0").continue_on_error == "none"
    assert one_job("continue_on_error=verify").continue_on_error == "verify"


def test_ignore_error_lists_take_names_and_numbers(one_job, error_of):
    assert one_job("ignore_error=EIO:ENOMEM,,84").ignore_error == (
        (errno.EIO, errno.ENOMEM), (), (84,))
    assert one_job("ignore_error=EAGAIN").ignore_error == ((errno.EAGAIN,), (), ())
    assert "'ENOPE' is not an errno name" in error_of("[j]\nsize=1m\nignore_error=ENOPE\n")


def test_error_dump_is_a_bool_as_in_fio(one_job, error_of):
    dumping, quiet = one_job("error_dump=1"), one_job("error_dump=0")
    assert dumping.job_options[-1] == ("error_dump", "1")  # in the report's job options
    assert replace(dumping, job_options=()) == replace(quiet, job_options=())  # nothing to dump
    assert "is not 0 or 1" in error_of("[j]\nsize=1m\nerror_dump=yes\n")


def test_priorities(one_job, error_of):
    job = one_job("nice=-5\nprio=3\nprioclass=1")
    assert (job.nice, job.ioprio, job.ioprio_class) == (-5, 3, 1)
    assert (one_job("").ioprio, one_job("").ioprio_class) == (-1, -1)  # not set: left alone
    assert one_job("nice=19").nice == 19
    assert "nice=20" in error_of("[j]\nsize=1m\nnice=20\n")
    assert "nice=-21" in error_of("[j]\nsize=1m\nnice=-21\n")
    assert "prio=8" in error_of("[j]\nsize=1m\nprio=8\n")
    assert "prioclass=4" in error_of("[j]\nsize=1m\nprioclass=4\n")


def test_cgroup_fields(one_job, error_of):
    job = one_job("cgroup=lg\ncgroup_weight=500\ncgroup_nodelete=1")
    assert (job.cgroup, job.cgroup_weight, job.cgroup_nodelete) == ("lg", 500, True)
    assert "cgroup_weight=50" in error_of("[j]\nsize=1m\ncgroup_weight=50\n")  # fio: 100..1000


def test_numa_on_one_node_is_skipped_with_a_note(one_job, notes):
    job = one_job("numa_cpu_nodes=0\nnuma_mem_policy=bind:0")
    assert job.numa_cpu_nodes is None and job.numa_mem_policy is None
    assert any("numa_mem_policy skipped: this machine has one NUMA node" in n for n in notes)
    assert any("numa_cpu_nodes skipped: this machine has one NUMA node" in n for n in notes)


def test_numa_nodes_must_exist(error_of):
    assert "numa_cpu_nodes: node 1 does not exist (online nodes: 0)" in error_of(
        "[j]\nsize=1m\nnuma_cpu_nodes=0-1\n")
    assert "numa_mem_policy: node 3 does not exist" in error_of(
        "[j]\nsize=1m\nnuma_mem_policy=interleave:0,3\n")


@pytest.mark.parametrize(("text", "message"), [
    ("prefer", "prefer needs a node list"), ("prefer:0-1", "prefer takes exactly one node"),
    ("local:0", "local takes no node list"), ("wild:0", "'wild' is not one of"),
])
def test_mem_policy_syntax(error_of, text, message):
    assert message in error_of(f"[j]\nsize=1m\nnuma_mem_policy={text}\n")


def _two_nodes(tmp_path: Path, text: str):
    path = tmp_path / "n.fio"
    path.write_text(f"[j]\nsize=1m\n{text}\n")
    facts = SystemFacts(pagesize=4096, mb_memory=24105, ncpus=4, numa_nodes=(0, 1))
    return load([str(path)], facts=facts, environ={}, note=lambda m: None)[0].jobs[0]


def test_numa_on_two_nodes(tmp_path):
    job = _two_nodes(tmp_path, "numa_cpu_nodes=1\ncpus_allowed=0")
    assert job.numa_cpu_nodes == (1,) and job.cpus_allowed == ()  # the nodes win, as in fio
    assert _two_nodes(tmp_path, "numa_cpu_nodes=all").numa_cpu_nodes == (0, 1)
    assert _two_nodes(tmp_path, "numa_mem_policy=default").numa_mem_policy == ("default", ())
    # the worker binds the region to it (tests/engine/test_region.py)
    assert _two_nodes(tmp_path, "numa_mem_policy=bind:1").numa_mem_policy == ("bind", (1,))
    assert _two_nodes(tmp_path, "numa_mem_policy=interleave:0-1").numa_mem_policy == (
        "interleave", (0, 1))


def test_thread_jobs_of_a_group_must_agree_on_process_settings(error_of):
    text = "[global]\nsize=1m\nthread\n[a]\nnice=1\n[b]\nnice=2\n"
    assert "thread=1 jobs of one group share a process" in error_of(text)


def test_sync_options_set_only_their_periods(one_job):
    plain = one_job("rw=write")
    synced = one_job("rw=write\nfsync=4\nfdatasync=2\nsync_file_range=write:8\nend_fsync=1\n"
                     "fsync_on_close=1")
    assert synced.job_options[-5:] == (("fsync", "4"), ("fdatasync", "2"),
                                       ("sync_file_range", "write:8"), ("end_fsync", "1"),
                                       ("fsync_on_close", "1"))
    periods = ("fsync_blocks", "fdatasync_blocks", "sync_file_range_nr")
    assert [getattr(synced, k) for k in periods] == [4, 2, 8]
    # end_fsync and fsync_on_close change nothing: fio does not count their fsync
    assert {k: v for k, v in synced.to_dict().items() if k not in ("job_options", *periods)} == \
        {k: v for k, v in plain.to_dict().items() if k not in ("job_options", *periods)}


def test_softrandommap_is_accepted(one_job):
    assert one_job("rw=randread\nsoftrandommap=1").norandommap is False


def test_bs_is_seq_rand_gives_sequential_io_the_first_slot(one_job, error_of):
    # fio-3.42: rw=write bs=64k,4k bs_is_seq_rand=1 on 4 MiB does 64 writes of 64k
    assert one_job("rw=write\nbs=64k,4k\nbs_is_seq_rand=1").bs_min == (65536, 65536)
    assert one_job("rw=rw\nbs=4k,64k\nbs_is_seq_rand=1").bs_min == (4096, 4096)
    assert one_job("rw=randrw\nbs=4k,64k\npercentage_random=0\nbs_is_seq_rand=1").bs_min == (
        4096, 4096)
    assert one_job("rw=randrw\nbs=8k\nbs_is_seq_rand=1").bs_min == (8192, 8192)
    assert one_job("rw=randrw\nbs=4k,64k").bs_min == (4096, 65536)
    # a random job keeps both slots: the engine sizes each I/O by its mode
    job = one_job("rw=randwrite\nbs=4k,64k\nbs_is_seq_rand=1")
    assert (job.bs_min, job.bs_is_seq_rand) == ((4096, 65536), True)


def test_wait_for_checks_as_fio(load_text, error_of):
    plan = load_text("[global]\nsize=1m\n[a]\n[b]\nwait_for=a\n")
    assert [j.wait_for for j in plan.jobs] == ["", "a"]
    assert "a job cannot wait for itself" in error_of("[a]\nsize=1m\nwait_for=a\n")
    assert "waitee job 'b' unknown" in error_of("[a]\nsize=1m\nwait_for=b\n[b]\nsize=1m\n")
    assert "multiple waitees 'x' found" in error_of(
        "[global]\nsize=1m\n[x]\n[x]\n[c]\nwait_for=x\n")


def test_significant_figures(one_job, error_of):
    assert one_job("").significant_figures == 4
    assert one_job("significant_figures=6").significant_figures == 6
    assert "significant_figures=11" in error_of("[j]\nsize=1m\nsignificant_figures=11\n")


@pytest.mark.parametrize(("alias", "reason"), [
    ("gtod_cpu", "its own kernel loop"), ("block_error_percentiles", "trims have no meaning"),
    ("data_placement", "no files"), ("verify_header_seed", "verify option"),
    ("priohint", "block devices"),
])
def test_fio_aliases_of_refused_options_give_the_reason(error_of, alias, reason):
    assert reason in error_of(f"[j]\nsize=1m\n{alias}=1\n")


def test_sync_options_set_their_periods(one_job, error_of):
    job = one_job("rw=write\nfsync=4\nfdatasync=3\nsync_file_range=wait_before,write:16")
    assert (job.fsync_blocks, job.fdatasync_blocks, job.sync_file_range_nr) == (4, 3, 16)
    assert one_job("sync_file_range=write").sync_file_range_nr == 1  # fio's default N
    assert "is not one of" in error_of("[j]\nsize=1m\nsync_file_range=flush:2\n")


def test_log_column_options(one_job):
    job = one_job("log_max_value=1\nlog_alternate_epoch=1\nlog_prio=1\nlog_issue_time=1")
    assert (job.log_window_value, job.log_unix_epoch, job.log_prio, job.log_issue_time) == (
        "max", True, True, True)
    assert one_job("log_window_value=both").log_window_value == "both"
    assert one_job("log_max_value=0").log_window_value == "avg"


def test_flow_ids_get_slots_in_order(load_text):
    plan = load_text("[a]\nsize=1m\nflow=2\nflow_id=9\n[b]\nsize=1m\nflow=1\nflow_id=4\n"
                     "[c]\nsize=1m\nflow=1\nflow_id=9\n[d]\nsize=1m\nflow_id=5\n")
    assert [(j.flow, j.flow_id, j.flow_slot) for j in plan.jobs] == [
        (2, 9, 0), (1, 4, 1), (1, 9, 0), (0, 5, 0)]
