"""fio-reference §1.1 (lines, comments, sections) and §1.3 (include)."""

from __future__ import annotations

import io
import os

import pytest

from loadgen.errors import InputError
from loadgen.jobfile.reader import is_empty_or_comment, split_option, strip_comment

from .conftest import FACTS
from .plans import load


def test_full_line_comments_blank_and_control_lines_are_skipped(load_text):
    plan = load_text("; c1\n# c2\n   ; c3\n\t# c4\n\n  \t \n\x01\x02\n[job]\n  # c5\nsize=1m\n")
    assert [job.size for job in plan.jobs] == [1 << 20]


def test_inline_comments_cut_at_first_semicolon_then_hash(load_text):
    plan = load_text("[job] ; a comment\nsize=1m # one MiB\nbs=4k;8k\nrw=randread#x\n")
    (job,) = plan.jobs
    assert job.name == "job"
    assert job.bs_min == (4096, 4096)  # "bs=4k;8k" is "bs=4k"
    assert job.rw == "randread"


def test_strip_comment_and_empty_line_helpers():
    assert strip_comment("size=1m # x ; y") == "size=1m"
    assert strip_comment("a#b;c") == "a"
    assert is_empty_or_comment("   ;x") and is_empty_or_comment("\x07 \t")
    assert not is_empty_or_comment(" size=1")


def test_section_name_keeps_inner_spaces(load_text):
    assert load_text("[job one]\nsize=1m\n").jobs[0].name == "job one"


def test_section_header_without_closing_bracket_is_an_error(error_of):
    assert error_of("[job\nsize=1m\n").endswith(
        "job.fio:1: section header '[job' does not end with ']'"
    )


def test_empty_section_name_is_an_error(error_of):
    assert "job.fio:2: empty section name" in error_of("\n[ ]\nsize=1m\n")


@pytest.mark.parametrize("name", ["global", "global2", "globalfoo"])
def test_names_beginning_with_global_are_global(load_text, name):
    plan = load_text(f"[{name}]\nsize=2m\n[job]\n")
    assert [(job.name, job.size) for job in plan.jobs] == [("job", 2 << 20)]


def test_option_before_first_section_is_an_error(error_of):
    message = error_of("; header\nsize=1m\n[job]\n")
    assert message.endswith("job.fio:2: option 'size=1m' outside of [] job section")


def test_include_before_first_section_is_an_error(tmp_path, error_of):
    (tmp_path / "inc.fio").write_text("size=1m\n")
    assert "outside of [] job section" in error_of(f"include {tmp_path / 'inc.fio'}\n[job]\n")


def test_key_and_value_are_stripped_unlike_fio():
    assert split_option("rw = randread") == ("rw", "randread")
    assert split_option("stonewall") == ("stonewall", None)
    assert split_option("description=a=b") == ("description", "a=b")


def test_section_option_selects_jobs_and_keeps_globals(load_text):
    text = "[global]\nsize=1m\n[a]\n[b]\nbogus_option\n[c]\n"
    plan = load_text(text, "--section=a", "--section=c")
    assert [job.name for job in plan.jobs] == ["a", "c"]  # b's lines are not even parsed


def test_unknown_section_is_an_error(error_of):
    assert "--section=zz: no such section" in error_of("[a]\nsize=1m\n", "--section=zz")


def test_dash_reads_the_job_file_from_stdin(monkeypatch):
    fake = io.TextIOWrapper(io.BytesIO(b"[s]\nsize=1m\nfoo\n"))
    monkeypatch.setattr("sys.stdin", fake)
    with pytest.raises(InputError, match=r"^<stdin>:3: bad option 'foo'"):
        load(["-"], facts=FACTS, environ={})


def test_missing_job_file_is_one_line(tmp_path):
    with pytest.raises(InputError) as caught:
        load([str(tmp_path / "nope.fio")], facts=FACTS, environ={})
    assert str(caught.value) == f"{tmp_path / 'nope.fio'}: No such file or directory"


def test_directory_as_job_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match="Is a directory"):
        load([str(tmp_path)], facts=FACTS, environ={})


def test_invalid_utf8_is_a_bad_option_not_a_crash(tmp_path):
    path = tmp_path / "bin.fio"
    path.write_bytes(b"[job]\nsize=1m\n\xff\xfe=1\n")
    with pytest.raises(InputError, match=r"bin.fio:3: bad option"):
        load([str(path)], facts=FACTS, environ={})


# --- include (§1.3)


def test_include_relative_to_cwd_applies_to_its_section_only(tmp_path, monkeypatch, load_text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.fio").write_text("; included\nbs=8k\n")
    plan = load_text("[a]\nsize=1m\ninclude inc.fio\n[b]\nsize=1m\n")
    assert [job.bs_min for job in plan.jobs] == [(8192, 8192), (4096, 4096)]


def test_include_falls_back_to_the_including_files_directory(tmp_path, monkeypatch):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "common.fio").write_text("size=3m\n")
    (jobs / "main.fio").write_text("[global]\ninclude common.fio\n[job]\n")
    monkeypatch.chdir(tmp_path)
    plan, _ = load(["jobs/main.fio"], facts=FACTS, environ={})
    assert plan.jobs[0].size == 3 << 20


def test_include_in_global_feeds_the_template_and_nests(tmp_path, monkeypatch, load_text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outer.fio").write_text("include=inner.fio\nrw=randread\n")
    (tmp_path / "inner.fio").write_text("size=2m\n")
    plan = load_text("[global]\ninclude outer.fio\n[a]\n[b]\n")
    assert [(job.size, job.rw) for job in plan.jobs] == [(2 << 20, "randread")] * 2


def test_included_options_keep_order_so_later_lines_win(tmp_path, monkeypatch, load_text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.fio").write_text("bs=8k\n")
    plan = load_text(
        "[a]\nsize=1m\nbs=16k\ninclude inc.fio\n[b]\nsize=1m\ninclude inc.fio\nbs=16k\n"
    )
    assert [job.bs_min[0] for job in plan.jobs] == [8192, 16384]


def test_no_sections_in_included_files(tmp_path, monkeypatch, error_of):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.fio").write_text("bs=8k\n[other]\n")
    assert error_of("[a]\nsize=1m\ninclude inc.fio\n").endswith(
        "inc.fio:2: no new sections in included files")


def test_include_loop_and_missing_include_are_errors(tmp_path, monkeypatch, error_of):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop.fio").write_text("include loop.fio\n")
    assert "include loop" in error_of("[a]\nsize=1m\ninclude loop.fio\n")
    assert error_of("[a]\ninclude gone.fio\n").endswith(
        "job.fio:2: include gone.fio: No such file or directory")


def test_errors_in_included_files_name_the_included_file(tmp_path, monkeypatch, error_of):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.fio").write_text("\nbs=oops\n")
    assert error_of("[a]\nsize=1m\ninclude inc.fio\n").startswith("inc.fio:2: bs=oops:")


def test_include_of_a_device_is_refused(error_of):
    assert "not a regular file" in error_of(f"[a]\ninclude {os.devnull}\n")


def test_blanks_after_include_are_skipped_unlike_fio(tmp_path, monkeypatch, load_text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.fio").write_text("size=2m\n")
    assert load_text("[a]\ninclude   inc.fio\n").jobs[0].size == 2 << 20


def test_blanks_around_a_section_name_are_dropped(load_text):
    assert load_text("[ job ]\nsize=1m\n").jobs[0].name == "job"


def test_crlf_line_endings_work(load_text):
    plan = load_text("[job]\r\nsize=1m\r\nrw=randread ; c\r\n")
    assert (plan.jobs[0].name, plan.jobs[0].rw) == ("job", "randread")


def test_long_lines_and_long_section_names_are_kept(load_text):
    name = "j" * 300
    plan = load_text(f"[{name}]\nsize=1m\ndescription={'d' * 10000}\n")
    assert plan.jobs[0].name == name  # fio would cut the name at 255 characters
    assert len(plan.jobs[0].description) == 10000


# ---- inputs that never end or are huge: read in bounded memory, refused in one line --------
# `python -m loadgen plan` for real, under an address-space limit so a reader that does not
# stop cannot take the machine; its peak RSS comes from wait4
MEMORY_BOUND = 1 << 30


def _plan_under_bound(args: list[str], stdin_path: str | None = None) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in bytes) of `python -m loadgen plan ARGS`.

    The child sets its own bound and reports its own VmHWM: ru_maxrss of a child would
    carry the peak of this (large) test process, from which it was forked."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        bounded = (
            "import atexit, resource, runpy, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_BOUND}, {MEMORY_BOUND}))\n"
            "def peak():\n"
            "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            f"    open({str(peak_file)!r}, 'w').write(hwm.split()[1])\n"
            "atexit.register(peak)\n"
            "sys.argv = ['loadgen', *sys.argv[1:]]\n"
            "runpy.run_module('loadgen', run_name='__main__')\n"
        )
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.run(
                [sys.executable, "-c", bounded, "plan", *args], stdin=stdin,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                env={**os.environ, "PYTHONPATH": str(repo)})
        finally:
            if stdin_path:
                stdin.close()  # type: ignore[union-attr]
        return proc.returncode, proc.stderr.decode(), int(peak_file.read_text()) * 1024


@pytest.mark.parametrize("how", ["path", "stdin"])
def test_a_job_file_that_never_ends_is_cut_off_at_the_cap(how: str) -> None:
    from loadgen.jobfile.reader import MAX_JOBFILE_BYTES

    args, stdin = (["/dev/zero"], None) if how == "path" else (["-"], "/dev/zero")
    status, stderr, peak = _plan_under_bound(args, stdin)
    name = "/dev/zero" if how == "path" else "<stdin>"
    assert status == 2
    assert stderr.splitlines() == [f"{name}: job file larger than {MAX_JOBFILE_BYTES >> 20} MiB"]
    assert peak < 4 * MAX_JOBFILE_BYTES + (64 << 20)  # the cap's bytes and text, not more


def test_includes_count_against_one_cap_together(tmp_path):
    from loadgen.jobfile.reader import MAX_JOBFILE_BYTES

    part = tmp_path / "part.fio"
    part.write_text("; " + "x" * (MAX_JOBFILE_BYTES // 3) + "\n")
    main = tmp_path / "main.fio"
    main.write_text("[a]\n" + "include part.fio\n" * 4)
    with pytest.raises(InputError) as raised:
        load([str(main)], facts=FACTS)
    assert str(raised.value) == (f"{main}:4: {part}: job file larger than 16 MiB "
                                 "(with the files read before it)")


def test_half_a_million_sections_are_refused_at_the_first_too_many(tmp_path):
    from loadgen.jobfile.options import MAX_JOBS

    big = tmp_path / "many.fio"
    with big.open("w") as out:  # 10 MB, 504,611 job sections, as the hostile file was
        out.write("[global]\nioengine=page_fault\n")
        for i in range(504_611):
            out.write(f"[j{i}]\nsize=4k\n")
    status, stderr, peak = _plan_under_bound([str(big)])
    assert status == 2
    line = 3 + 2 * MAX_JOBS  # the section header of job 4097
    assert stderr.splitlines() == [
        f"{big}:{line}: more than {MAX_JOBS} jobs: at most {MAX_JOBS} are allowed (fio's limit)"]
    assert peak < 128 << 20
