"""Fixtures for the job-file tests: load text as a job file on a fixed, fio-reference machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen.errors import InputError, MultiInputError
from loadgen.jobfile.substitute import SystemFacts
from loadgen.plan import Job, Plan

from .plans import load

# The machine of fio-reference.md: 4 KiB pages, 24105 MiB, 2 CPUs.
FACTS = SystemFacts(pagesize=4096, mb_memory=24105, ncpus=2)

LoadText = Callable[..., Plan]


@pytest.fixture
def notes() -> list[str]:
    return []


@pytest.fixture
def load_text(tmp_path: Path, notes: list[str]) -> LoadText:
    """``load_text(text, *args, environ={})`` -> Plan of a job file holding ``text``."""

    def run(text: str, *args: str, environ: dict[str, str] | None = None) -> Plan:
        path = tmp_path / "job.fio"
        path.write_text(text)
        plan, _ = load([str(path), *args], facts=FACTS, environ=environ or {}, note=notes.append)
        return plan

    return run


@pytest.fixture
def one_job(load_text: LoadText) -> Callable[..., Job]:
    """The single job of ``[job]\\nsize=1m\\n<text>``."""

    def run(text: str, *args: str, **kwargs: dict[str, str]) -> Job:
        plan = load_text(f"[job]\nsize=1m\n{text}\n", *args, **kwargs)
        return plan.jobs[0]

    return run


def _errors(load_text: LoadText, text: str, *args: str, **kwargs: dict[str, str]) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_text(text, *args, **kwargs)
    if isinstance(caught.value, MultiInputError):
        return [str(error) for error in caught.value.errors]
    return [str(caught.value)]


@pytest.fixture
def error_of(load_text: LoadText) -> Callable[..., str]:
    """The first InputError line that loading ``text`` gives (they come in file order)."""
    return lambda text, *args, **kwargs: _errors(load_text, text, *args, **kwargs)[0]


@pytest.fixture
def errors_of(load_text: LoadText) -> Callable[..., list[str]]:
    """Every error line that loading ``text`` gives, each one ``FILE:LINE: message``."""
    return lambda text, *args, **kwargs: _errors(load_text, text, *args, **kwargs)
