"""loadgen.status: the README documents exactly the exit statuses the enum defines."""

from __future__ import annotations

from pathlib import Path

from loadgen.status import ExitStatus, OutcomeKind, exit_status_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_exit_status_table_is_the_enums() -> None:
    text = README.read_text()
    section = text[text.index("## Exit status"):]
    section = section[:section.index("\n\n", section.index("| status |"))] + "\n"
    assert section.endswith(exit_status_table())
    assert [int(line.split("|")[1]) for line in exit_status_table().splitlines()[2:]] == [
        0, 1, 2, 3, 4]


def test_exit_statuses_are_the_documented_numbers() -> None:
    assert {s.name: s.value for s in ExitStatus} == {
        "OK": 0, "FAILED": 1, "BAD_INPUT": 2, "SIGNALLED": 3, "OOM": 4}


def test_outcome_kinds_tell_oom_kills_and_deaths_apart() -> None:
    assert {k for k in OutcomeKind if k.is_oom} == {OutcomeKind.OOM_KILLED,
                                                     OutcomeKind.PROBABLY_OOM}
    not_deaths = {OutcomeKind.COMPLETED, OutcomeKind.FAILED, OutcomeKind.STOPPED}
    assert {k for k in OutcomeKind if not k.is_death} == not_deaths
