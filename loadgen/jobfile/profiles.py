"""The job files shipped inside the package (``loadgen/profiles/*.fio``), found by name.

``loadgen run page_fault`` runs the bundled ``page_fault.fio`` wherever loadgen is
installed; a file of that name in the working directory always wins, so a bundled
profile never shadows the user's own job file.
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from pathlib import Path

from loadgen.jobfile.reader import is_global_name

SUFFIX = ".fio"
_SECTION = re.compile(r"^[ \t]*\[([^\]\n]+)\]", re.MULTILINE)


def directory() -> Path:
    """Where the bundled profiles are (a plain directory: loadgen is never run zipped)."""
    return Path(str(files("loadgen") / "profiles"))


def bundled() -> dict[str, Path]:
    """Every bundled profile by name (the file name without ``.fio``), sorted."""
    return {path.name.removesuffix(SUFFIX): path for path in sorted(directory().glob(f"*{SUFFIX}"))}


def locate(argument: str) -> str:
    """The job file a command-line argument names: the path itself when it exists (or is
    ``-``, standard input, or has a directory part), else the bundled profile
    ``argument`` or ``argument.fio``, else the argument unchanged for the reader to
    report as missing."""
    if argument == "-" or os.sep in argument or os.path.exists(argument):
        return argument
    path = bundled().get(argument.removesuffix(SUFFIX))
    return str(path) if path is not None else argument


def job_sections(text: str) -> list[str]:
    """The job sections of a job file's text, in order ([global] sections excluded)."""
    return [name.strip() for name in _SECTION.findall(text) if not is_global_name(name.strip())]


def listing() -> str:
    """``loadgen profiles``: one line per bundled profile: name, job count, file."""
    rows = []
    for name, path in bundled().items():
        jobs = len(job_sections(path.read_text()))
        rows.append(f"{name:<20} {jobs:>3} job{'s' if jobs != 1 else ''}  {path}\n")
    return "".join(rows)
