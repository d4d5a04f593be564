"""Splitting a ``loadgen plan|run`` argument list the way fio's ``parse_cmd_line`` does.

Arguments are job files, run-level options (``--output-format`` ...) and fio-style job
options (``--name=x --rw=write``).  Job options before the first ``--name`` are global;
``--name=global`` opens a global section.  As in fio (getopt), an option that needs a value
may take it from the next argument: ``--size 1g``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loadgen.errors import InputError
from loadgen.jobfile.options import BY_NAME
from loadgen.jobfile.reader import OptionLine, Section, is_global_name
from loadgen.jobfile.resolve import COMMAND_LINE
from loadgen.jobfile.values import NS_PER_MS, NS_PER_S, BadValue, parse_time
from loadgen.plan import RunOptions

OUTPUT_FORMATS = ("normal", "json", "json+", "terse")
ETA_MODES = ("auto", "always", "never")
MIN_STATUS_INTERVAL_NS = 100 * NS_PER_MS
RUN_OPTIONS = ("output-format", "output", "jsonl", "status-interval", "eta", "section", "cmdhelp",
               "prometheus", "start-at", "release-fd")


@dataclass(frozen=True)
class CommandLine:
    job_files: tuple[str, ...]
    sections: tuple[Section, ...]  # command-line jobs; the first is the global template
    wanted: frozenset[str] | None  # --section names, None = all
    run_options: RunOptions
    cmdhelp: str | None = None  # "" = list all options
    help: bool = False


def _takes_value(key: str) -> bool:
    option = BY_NAME.get(key)
    return option is not None and option.kind.bare_on_command_line is None


def parse_command_line(argv: list[str]) -> CommandLine:
    files: list[str] = []
    job_tokens: list[tuple[str, str | None]] = []
    run: dict[str, list[str]] = {}
    cmdhelp: str | None = None
    wants_help = False
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            files += argv[index:]
            break
        if arg == "-" or not arg.startswith("-"):
            files.append(arg)
            continue
        if arg in ("-h", "--help"):
            wants_help = True
            continue
        if not arg.startswith("--"):
            raise InputError(f"unknown option {arg!r} (job options are --name=value)", COMMAND_LINE)
        key, equals, value = arg[2:].partition("=")
        given: str | None = value if equals else None
        if key == "cmdhelp":
            cmdhelp = given or ""
            continue
        needs_value = key in RUN_OPTIONS or key == "name" or _takes_value(key)
        if given is None and needs_value:
            if index >= len(argv):
                raise InputError(f"option --{key} needs a value", COMMAND_LINE)
            given = argv[index]
            index += 1
        if key in RUN_OPTIONS:
            run.setdefault(key, []).append(given or "")
        else:
            job_tokens.append((key, given))
    wanted = frozenset(run["section"]) if "section" in run else None
    return CommandLine(
        job_files=tuple(files),
        sections=tuple(_sections(job_tokens, wanted)),
        wanted=wanted,
        run_options=_run_options(run, argv),
        cmdhelp=cmdhelp,
        help=wants_help,
    )


def _sections(tokens: list[tuple[str, str | None]], wanted: frozenset[str] | None) -> list[Section]:
    """Command-line job options grouped into sections, as fio's get_new_job/add_job."""
    current = Section("global", True, COMMAND_LINE)
    sections = [current]
    skipping = False
    for key, value in tokens:
        if key == "name" and value is not None:
            name = value.strip()
            if is_global_name(name):
                current, skipping = Section(name, True, COMMAND_LINE), False
            else:
                current = Section(name, False, COMMAND_LINE)
                skipping = wanted is not None and name not in wanted
                current.options.append(OptionLine("name", name, COMMAND_LINE))
            if not skipping:
                sections.append(current)
            continue
        if not skipping:
            current.options.append(OptionLine(key, value, COMMAND_LINE))
    return sections


def _last(run: dict[str, list[str]], key: str) -> str | None:
    return run[key][-1] if key in run else None


def _run_options(run: dict[str, list[str]], argv: list[str]) -> RunOptions:
    formats: list[str] = []
    for text in run.get("output-format", []):
        for word in text.split(","):
            word = word.strip()
            if word not in OUTPUT_FORMATS:
                raise InputError(
                    f"--output-format: {word!r} is not one of: {', '.join(OUTPUT_FORMATS)}",
                    COMMAND_LINE,
                )
            if word not in formats:
                formats.append(word)
    eta = _last(run, "eta") or "auto"
    if eta not in ETA_MODES:
        raise InputError(f"--eta: {eta!r} is not one of: {', '.join(ETA_MODES)}", COMMAND_LINE)
    interval_text = _last(run, "status-interval")
    interval = NS_PER_S
    if interval_text is not None:
        try:
            interval = parse_time(interval_text, NS_PER_S)
        except BadValue as exc:
            raise InputError(f"--status-interval={interval_text}: {exc}", COMMAND_LINE) from None
        if interval < MIN_STATUS_INTERVAL_NS:
            raise InputError(
                f"--status-interval={interval_text}: must be at least 100ms", COMMAND_LINE
            )
    start_at_ns, release_fd = _release_options(run)
    return RunOptions(
        output_format=tuple(formats) or ("normal",),
        output=_last(run, "output") or "",
        jsonl=_last(run, "jsonl") or "",
        status_interval_ns=interval,
        status_interval_given=interval_text is not None,
        eta=eta,
        command_line=tuple(argv),
        prometheus=_last(run, "prometheus") or "",
        start_at_ns=start_at_ns,
        release_fd=release_fd,
    )


def _release_options(run: dict[str, list[str]]) -> tuple[int, int]:
    """``--start-at=EPOCH`` (seconds since the epoch, fractions allowed) and ``--release-fd=FD``."""
    start_text, fd_text = _last(run, "start-at"), _last(run, "release-fd")
    if start_text is not None and fd_text is not None:
        raise InputError("--start-at and --release-fd cannot be used together", COMMAND_LINE)
    start_at_ns, release_fd = 0, -1
    if start_text is not None:
        try:
            start_at_ns = int(Decimal(start_text.strip()) * NS_PER_S)
        except (ArithmeticError, ValueError):  # not a number, nan, inf
            start_at_ns = 0
        if not 0 < start_at_ns < (1 << 63):
            raise InputError(f"--start-at={start_text}: not a time in seconds since the epoch",
                             COMMAND_LINE)
    if fd_text is not None:
        if not fd_text.isdigit() or int(fd_text) < 3:
            raise InputError(f"--release-fd={fd_text}: not a file descriptor number (3 or more)",
                             COMMAND_LINE)
        release_fd = int(fd_text)
    return start_at_ns, release_fd
