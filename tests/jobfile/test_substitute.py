"""fio-reference §1.4: ${ENV}, reserved keywords, arithmetic on keyword lines."""

from __future__ import annotations

import os

from loadgen.jobfile.substitute import SystemFacts, expand_environment, replace_keywords

from .conftest import FACTS


def test_environment_variables_expand_anywhere_and_unset_is_empty():
    env = {"SIZE": "64m", "KEY": "rw"}
    assert expand_environment("${KEY}=x size=${SIZE}", env) == "rw=x size=64m"
    assert expand_environment("size=${NOPE}1m", env) == "size=1m"
    assert expand_environment("size=$SIZE", env) == "size=$SIZE"  # only the ${} form


def test_keywords_are_plain_substring_replacement():
    assert replace_keywords("size=$pagesizem", FACTS) == ("size=4096m", True)
    assert replace_keywords("a=$mb_memory b=$ncpus", FACTS) == ("a=24105 b=2", True)
    assert replace_keywords("size=1m", FACTS) == ("size=1m", False)


def test_facts_of_this_machine_follow_sysconf():
    facts = SystemFacts.of_this_machine()
    pagesize = os.sysconf("SC_PAGESIZE")
    assert facts.pagesize == pagesize
    assert facts.mb_memory == os.sysconf("SC_PHYS_PAGES") * pagesize // 2**20
    assert facts.ncpus == max(1, os.sysconf("SC_NPROCESSORS_CONF"))


def test_env_then_keywords_in_job_files(one_job):
    job = one_job("size=${N}*$pagesize", environ={"N": "3"})
    assert job.size == 3 * 4096


def test_keyword_in_suffix_position_gives_fio_result(one_job):
    assert one_job("size=$pagesizem").size == 4096 << 20  # 4 GiB, as fio


def test_keyword_arithmetic_truncates_like_bc(one_job):
    assert one_job("size=5*1024*1024*$mb_memory/8").size == 15797452800
    assert one_job("size=$mb_memory/8*5*1024").size == 24105 // 8 * 5 * 1024
    assert one_job("numjobs=$ncpus*3").numjobs == 6


def test_keyword_arithmetic_is_shown_computed_in_job_options(one_job):
    job = one_job("size=5*1024*1024*$mb_memory/8 # 5/8\nnumjobs=$ncpus")
    assert dict(job.job_options)["size"] == "15797452800"
    assert dict(job.job_options)["numjobs"] == "2"


def test_arithmetic_without_keyword_computes_unlike_fio(one_job):
    job = one_job("size=64*1024*1024")
    assert job.size == 64 << 20  # fio: 64 bytes (strtoll stops at '*')
    assert dict(job.job_options)["size"] == "64*1024*1024"  # as written


def test_keyword_ranges_and_suffixes_work_unlike_bc(one_job):
    assert one_job("bsrange=$pagesize-16k").bs_max == (16384, 16384)
    assert one_job("size=$mb_memory/3k*1m").size == 24105 // 3072 << 20


def test_command_line_values_are_not_substituted(load_text):
    import pytest

    from loadgen.errors import InputError

    with pytest.raises(InputError, match=r"^command line: size=\$pagesize: unexpected character"):
        load_text("[a]\n", "--size=$pagesize")
