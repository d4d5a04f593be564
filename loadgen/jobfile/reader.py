"""Reading job files into sections of option lines (fio's ``__parse_jobs_ini``).

This layer knows lines, comments, ``[sections]``, ``include`` and substitution; it does not
know what options mean.  Every option line keeps its ``FILE:LINE`` so later errors point at it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from loadgen.errors import InputError
from loadgen.jobfile.options import MAX_JOBS
from loadgen.jobfile.substitute import SystemFacts, expand_environment, replace_keywords

STDIN_NAME = "-"
MAX_INCLUDE_DEPTH = 16
# a job file is read whole, so a path that never ends (/dev/zero, a stream on stdin) is
# cut off here, for all the files of one command line together; real job files (4096
# jobs with a dozen options each) are a fraction of this
MAX_JOBFILE_BYTES = 16 << 20
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


class OverCap(InputError):
    """A job file over the size cap: reading stops here, nothing after it is read."""


def read_text(path: str, location: str = "", limit: int = MAX_JOBFILE_BYTES) -> str:
    """The file's text (see ``read_bytes``)."""
    return read_bytes(path, location, limit).decode("utf-8", errors="replace")


def read_bytes(path: str, location: str = "", limit: int = MAX_JOBFILE_BYTES) -> bytes:
    """The file, at most ``limit`` bytes of it; an unreadable or larger file is the
    user's error (one line, exit 2), and nothing past the limit is read."""
    where = display_name(path) if not location else f"{location}: {path}"
    try:
        if path == STDIN_NAME:
            if sys.stdin is None:
                raise InputError("no standard input to read the job file from", location or "-")
            data = sys.stdin.buffer.read(limit + 1)
        else:
            if os.path.isdir(path):
                raise InputError("Is a directory", where)
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        if not location:  # an empty name is named in its error
            where = path or "''"
        raise InputError(exc.strerror or str(exc), where) from None
    if len(data) > limit:
        together = "" if limit == MAX_JOBFILE_BYTES else " (with the files read before it)"
        raise OverCap(f"job file larger than {MAX_JOBFILE_BYTES >> 20} MiB{together}", where)
    return data


def _lines(text: str) -> Iterator[str]:
    """``text.split("\n")``, one line at a time (a big file is not copied into a list)."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


class JobFileReader:
    """Reads one job file (and its includes) into sections, in file order."""

    def __init__(self, facts: SystemFacts, environ: Mapping[str, str],
                 sections: frozenset[str] | None = None) -> None:
        self.facts = facts
        self.environ = environ
        self.wanted = sections
        self.sections_seen: set[str] = set()
        self.bytes_left = MAX_JOBFILE_BYTES  # for every file this reader reads, together
        self.jobs = 0  # job sections kept so far: each is at least one job
        # every mistake of every file read, in file order (fio lists a job's bad lines together)
        self.errors: list[InputError] = []

    def _text(self, path: str, location: str = "") -> str:
        data = read_bytes(path, location, self.bytes_left)
        self.bytes_left -= len(data)
        return data.decode("utf-8", errors="replace")

    def read(self, path: str) -> list[Section]:
        """The file's sections; its mistakes are added to ``errors`` and reading goes on."""
        sections: list[Section] = []
        current: Section | None = None
        skipping = False
        name = display_name(path)
        try:
            text = self._text(path)
        except OverCap:
            raise
        except InputError as exc:  # unreadable: the other files are still read
            self.errors.append(exc)
            return sections
        for number, raw in enumerate(_lines(text), 1):
            location = f"{name}:{number}"
            if is_empty_or_comment(raw):
                continue
            line = strip_comment(raw.lstrip(_C_SPACE))
            kept: Section | None = None
            try:
                if line.startswith("["):
                    current = None
                    skipping = True  # the lines under a bad header belong to no section
                    current = self._section(line, location)
                    self.sections_seen.add(current.name)
                    skipping = not current.is_global and self.wanted is not None and \
                        current.name not in self.wanted
                    if not skipping:
                        kept = current
                        sections.append(current)
                elif not skipping:
                    if current is None:
                        raise InputError(f"option {line!r} outside of [] job section", location)
                    self._option_or_include(line, location, path, current,
                                            (os.path.realpath(path),))
            except OverCap:
                raise
            except InputError as exc:
                self.errors.append(exc)
            if kept is not None:  # the job limit stops the reading at once (bounded memory)
                self._count_job(kept)
        return sections

    def _count_job(self, section: Section) -> None:
        """fio's job limit, while reading: a file of a million sections is refused at
        the first one too many, in the memory of the ones before it."""
        if section.is_global:
            return
        self.jobs += 1
        if self.jobs > MAX_JOBS:
            raise InputError(f"more than {MAX_JOBS} jobs: at most {MAX_JOBS} are allowed "
                             "(fio's limit)", section.location)

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
            reason = (
                "not a regular file" if os.path.exists(candidate) else "No such file or directory"
            )
            raise InputError(f"include {target}: {reason}", location)
        real = os.path.realpath(candidate)
        if real in chain or len(chain) >= MAX_INCLUDE_DEPTH:
            raise InputError(f"include {target}: include loop", location)
        for number, raw in enumerate(_lines(self._text(candidate, location)), 1):
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
