"""Reading job files into sections of option lines (fio's ``__parse_jobs_ini``).

This layer knows lines, comments, ``[sections]``, ``include`` and substitution; it does not
know what options mean.  Every option line keeps its ``FILE:LINE`` so later errors point at it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Mapping

from loadgen.errors import InputError
from loadgen.jobfile.substitute import SystemFacts, expand_environment, replace_keywords

STDIN_NAME = "-"
MAX_INCLUDE_DEPTH = 16
_C_SPACE = " \t\n\v\f\r"


@dataclass(frozen=True)
class OptionLine:
    key: str
    value: str | None  # None: a bare key without '='
    location: str
    keyword_substituted: bool = False


@dataclass
class Section:
    name: str
    is_global: bool
    location: str
    options: list[OptionLine] = field(default_factory=list)


def is_global_name(name: str) -> bool:
    """fio compares only the first six characters: ``[global2]`` is global too."""
    return name.startswith("global")


def is_empty_or_comment(line: str) -> bool:
    stripped = line.lstrip(_C_SPACE)
    if stripped[:1] in (";", "#"):
        return True
    return all(char in _C_SPACE or ord(char) < 32 or ord(char) == 127 for char in line)


def strip_comment(line: str) -> str:
    """fio's strip_blank_end: cut at the first ';', then the first '#', trim the end."""
    line = line.split(";", 1)[0].split("#", 1)[0]
    return line.rstrip(_C_SPACE)


def split_option(text: str) -> tuple[str, str | None]:
    """``key=value`` -> (key, value); ``key`` -> (key, None).

    Unlike fio, the blanks around the value are removed too, so ``rw = randread`` works.
    """
    key, equals, value = text.partition("=")
    return key.strip(_C_SPACE), (value.strip(_C_SPACE) if equals else None)


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN_NAME else path


def read_text(path: str, location: str = "") -> str:
    """The file's text; an unreadable file is the user's error (one line, exit 2)."""
    try:
        if path == STDIN_NAME:
            if sys.stdin is None:
                raise InputError("no standard input to read the job file from", location or "-")
            data = sys.stdin.buffer.read()
        else:
            if os.path.isdir(path):
                raise InputError("Is a directory", path if not location else f"{location}: {path}")
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        where = (path or "''") if not location else f"{location}: {path}"
        raise InputError(exc.strerror or str(exc), where) from None
    return data.decode("utf-8", errors="replace")


class JobFileReader:
    """Reads one job file (and its includes) into sections, in file order."""

    def __init__(self, facts: SystemFacts, environ: Mapping[str, str],
                 sections: frozenset[str] | None = None) -> None:
        self.facts = facts
        self.environ = environ
        self.wanted = sections
        self.sections_seen: set[str] = set()
        # every mistake of every file read, in file order (fio lists a job's bad lines together)
        self.errors: list[InputError] = []

    def read(self, path: str) -> list[Section]:
        """The file's sections; its mistakes are added to ``errors`` and reading goes on."""
        sections: list[Section] = []
        current: Section | None = None
        skipping = False
        name = display_name(path)
        try:
            text = read_text(path)
        except InputError as exc:
            self.errors.append(exc)
            return sections
        for number, raw in enumerate(text.split("\n"), 1):
            location = f"{name}:{number}"
            if is_empty_or_comment(raw):
                continue
            line = strip_comment(raw.lstrip(_C_SPACE))
            try:
                if line.startswith("["):
                    current = None
                    skipping = True  # the lines under a bad header belong to no section
                    current = self._section(line, location)
                    self.sections_seen.add(current.name)
                    skipping = not current.is_global and self.wanted is not None and \
                        current.name not in self.wanted
                    if not skipping:
                        sections.append(current)
                    continue
                if skipping:
                    continue
                if current is None:
                    raise InputError(f"option {line!r} outside of [] job section", location)
                self._option_or_include(line, location, path, current, (os.path.realpath(path),))
            except InputError as exc:
                self.errors.append(exc)
        return sections

    def _section(self, line: str, location: str) -> Section:
        if not line.endswith("]"):
            raise InputError(f"section header {line!r} does not end with ']'", location)
        name = line[1:-1].strip(_C_SPACE)
        if not name:
            raise InputError("empty section name", location)
        return Section(name, is_global_name(name), location)

    def _option_or_include(self, line: str, location: str, path: str, section: Section,
                           chain: tuple[str, ...]) -> None:
        if line.startswith("include"):
            self._include(line[len("include") + 1:].strip(_C_SPACE), location, path, section, chain)
            return
        text = expand_environment(line, self.environ)
        text, substituted = replace_keywords(text, self.facts)
        key, value = split_option(text)
        section.options.append(OptionLine(key, value, location, substituted))

    def _include(self, target: str, location: str, including: str, section: Section,
                 chain: tuple[str, ...]) -> None:
        if not target:
            raise InputError("include needs a file name", location)
        candidate = target
        if not os.path.exists(candidate) and "/" in including:
            candidate = os.path.join(os.path.dirname(including), target)
        if not os.path.isfile(candidate):
            reason = "not a regular file" if os.path.exists(candidate) else "No such file or directory"
            raise InputError(f"include {target}: {reason}", location)
        real = os.path.realpath(candidate)
        if real in chain or len(chain) >= MAX_INCLUDE_DEPTH:
            raise InputError(f"include {target}: include loop", location)
        for number, raw in enumerate(read_text(candidate, location).split("\n"), 1):
            inner = f"{candidate}:{number}"
            if is_empty_or_comment(raw):
                continue
            line = strip_comment(raw.lstrip(_C_SPACE))
            try:
                if line.startswith("["):
                    raise InputError("no new sections in included files", inner)
                self._option_or_include(line, inner, candidate, section, (*chain, real))
            except InputError as exc:
                self.errors.append(exc)
