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

# fio's parse_output_format: "minimal" and "csv" are spellings of terse
OUTPUT_FORMATS = ("normal", "json", "json+", "terse")
_FORMAT_SPELLINGS = {**{name: name for name in OUTPUT_FORMATS}, "minimal": "terse", "csv": "terse"}
ETA_MODES = ("auto", "always", "never")
TERSE_VERSIONS = (2, 3, 4, 5)
MIN_STATUS_INTERVAL_NS = 100 * NS_PER_MS
MIN_ETA_INTERVAL_NS = 250 * NS_PER_MS  # fio's DISK_UTIL_MSEC
MIN_ETA_NEWLINE_NS = NS_PER_MS  # fio: a period under 1 ms is "too short"


@dataclass(frozen=True)
class RunFlag:
    """One run-level flag: its value (``""`` = none), default and help, for parsing and --help."""

    name: str
    value: str
    default: str
    help: str
    optional_value: bool = False  # only as --flag=VALUE (getopt's optional_argument)


RUN_FLAGS: tuple[RunFlag, ...] = (
    RunFlag("output-format", "FORMAT[,FORMAT...]", "normal",
            "report formats, any of normal, json, json+, terse (also spelt minimal, csv); "
            "the last --output-format wins, as in fio"),
    RunFlag("output", "FILE", "standard output", "write the report to FILE (truncated)"),
    RunFlag("minimal", "", "off", "terse report only (same as --output-format=terse)"),
    RunFlag("append-terse", "", "off", "add terse to the selected formats (fio's deprecated flag)",
            optional_value=True),
    RunFlag("terse-version", "N", "3", "terse format version: 2, 3, 4 or 5"),
    RunFlag("status-interval", "TIME", "off (JSON lines: 1s)",
            "print the cumulative report every TIME (at least 100ms, unit s), in the selected "
            "formats; also the JSON-lines interval"),
    RunFlag("jsonl", "PATH|-", "off",
            "write per-interval JSON lines to PATH ('-' = standard output)"),
    RunFlag("eta", "auto|always|never", "auto",
            "progress line on stderr: auto = when stderr is a terminal"),
    RunFlag("eta-interval", "TIME", "1s", "update the progress line every TIME (at least 250ms)"),
    RunFlag("eta-newline", "TIME", "off", "end the progress line and start a new one every TIME"),
    RunFlag("section", "NAME", "every section", "run only section NAME (repeatable)"),
    RunFlag("parse-only", "", "off",
            "read and check the job files and command-line jobs, start nothing"),
    RunFlag("showcmd", "", "off", "print each job file as one fio command line, start nothing"),
    RunFlag("warnings-fatal", "", "off", "treat every note about a job option as an error"),
    RunFlag("max-jobs", "N", "4096", "accepted and ignored, as in fio (the limit is 4096 workers)"),
    RunFlag("prometheus", "FILE", "off",
            "rewrite FILE with the run's counters in the OpenMetrics text format every status "
            "interval (node_exporter's textfile collector)"),
    RunFlag("start-at", "EPOCH", "at once",
            "release the first group's workers at this wall-clock instant (seconds since the "
            "epoch; for fleets started without Dask)"),
    RunFlag("release-fd", "FD", "off",
            "an orchestrator on socket FD says when each group starts (loadgen's fleet agent)"),
    RunFlag("cmdhelp", "OPTION", "",
            "describe job option OPTION, or list them all ('all' or no value)",
            optional_value=True),
    RunFlag("version", "", "", "print loadgen's version and exit"),
    RunFlag("help", "", "", "print this help and exit"),
)
RUN_FLAG_BY_NAME = {flag.name: flag for flag in RUN_FLAGS}
RUN_OPTIONS = tuple(flag.name for flag in RUN_FLAGS if flag.value and not flag.optional_value)
_SWITCHES = ("minimal", "append-terse", "parse-only", "showcmd", "warnings-fatal", "version")


@dataclass(frozen=True)
class CommandLine:
    job_files: tuple[str, ...]
    sections: tuple[Section, ...]  # command-line jobs; the first is the global template
    wanted: frozenset[str] | None  # --section names, None = all
    run_options: RunOptions
    cmdhelp: str | None = None  # "" = list all options
    help: bool = False
    version: bool = False
    parse_only: bool = False
    showcmd: bool = False
    warnings_fatal: bool = False


def _takes_value(key: str) -> bool:
    option = BY_NAME.get(key)
    return option is not None and option.kind.bare_on_command_line is None


def parse_command_line(argv: list[str]) -> CommandLine:
    files: list[str] = []
    job_tokens: list[tuple[str, str | None]] = []
    run: list[tuple[str, str]] = []  # run flags in the order given (later ones win)
    cmdhelp: str | None = None
    switches: set[str] = set()
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
        if key in _SWITCHES:
            if given is not None and not RUN_FLAG_BY_NAME[key].optional_value:
                raise InputError(f"option --{key} takes no value", COMMAND_LINE)
            switches.add(key)
            run.append((key, ""))
            continue
        needs_value = key in RUN_OPTIONS or key == "name" or _takes_value(key)
        if given is None and needs_value:
            if index >= len(argv):
                raise InputError(f"option --{key} needs a value", COMMAND_LINE)
            given = argv[index]
            index += 1
        if key in RUN_OPTIONS:
            run.append((key, given or ""))
        else:
            job_tokens.append((key, given))
    sections = [value for key, value in run if key == "section"]
    wanted = frozenset(sections) if sections else None
    return CommandLine(
        job_files=tuple(files),
        sections=tuple(_sections(job_tokens, wanted)),
        wanted=wanted,
        run_options=_run_options(run, argv),
        cmdhelp=cmdhelp,
        help=wants_help,
        version="version" in switches,
        parse_only="parse-only" in switches,
        showcmd="showcmd" in switches,
        warnings_fatal="warnings-fatal" in switches,
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


def _last(run: list[tuple[str, str]], key: str) -> str | None:
    values = [value for name, value in run if name == key]
    return values[-1] if values else None


def _formats(run: list[tuple[str, str]]) -> tuple[str, ...]:
    """fio's order of effects: --output-format replaces, --minimal replaces with terse,
    --append-terse adds terse."""
    formats: list[str] = []
    for key, text in run:
        if key == "output-format":
            formats = []
            for word in text.split(","):
                name = _FORMAT_SPELLINGS.get(word.strip())
                if name is None:
                    raise InputError(f"--output-format: {word.strip()!r} is not one of: "
                                     f"{', '.join(OUTPUT_FORMATS)}", COMMAND_LINE)
                if name not in formats:
                    formats.append(name)
        elif key == "minimal":
            formats = ["terse"]
        elif key == "append-terse" and "terse" not in formats:
            formats = [*(formats or ["normal"]), "terse"]
    return tuple(formats) or ("normal",)


def _time_flag(run: list[tuple[str, str]], key: str, default_ns: int, minimum_ns: int,
               minimum_text: str) -> int | None:
    text = _last(run, key)
    if text is None:
        return None
    try:
        value = parse_time(text, NS_PER_S)
    except BadValue as exc:
        raise InputError(f"--{key}={text}: {exc}", COMMAND_LINE) from None
    if value < minimum_ns:
        raise InputError(f"--{key}={text}: must be at least {minimum_text}", COMMAND_LINE)
    return value if value else default_ns


def _run_options(run: list[tuple[str, str]], argv: list[str]) -> RunOptions:
    eta = _last(run, "eta") or "auto"
    if eta not in ETA_MODES:
        raise InputError(f"--eta: {eta!r} is not one of: {', '.join(ETA_MODES)}", COMMAND_LINE)
    terse_text = _last(run, "terse-version")
    terse_version = 3
    if terse_text is not None:
        if terse_text.strip() not in tuple(map(str, TERSE_VERSIONS)):
            raise InputError(f"--terse-version={terse_text}: bad terse version (2, 3, 4 or 5)",
                             COMMAND_LINE)
        terse_version = int(terse_text)
    max_jobs = _last(run, "max-jobs")
    if max_jobs is not None and not max_jobs.strip().isdigit():
        raise InputError(f"--max-jobs={max_jobs}: not a number", COMMAND_LINE)
    interval = _time_flag(run, "status-interval", NS_PER_S, MIN_STATUS_INTERVAL_NS, "100ms")
    eta_interval = _time_flag(run, "eta-interval", NS_PER_S, MIN_ETA_INTERVAL_NS, "250ms")
    eta_newline = _time_flag(run, "eta-newline", 0, MIN_ETA_NEWLINE_NS, "1ms")
    start_at_ns, release_fd = _release_options(run)
    return RunOptions(
        output_format=_formats(run),
        output=_last(run, "output") or "",
        jsonl=_last(run, "jsonl") or "",
        status_interval_ns=NS_PER_S if interval is None else interval,
        status_interval_given=interval is not None,
        eta=eta,
        eta_interval_ns=NS_PER_S if eta_interval is None else eta_interval,
        eta_newline_ns=eta_newline or 0,
        terse_version=terse_version,
        command_line=tuple(argv),
        prometheus=_last(run, "prometheus") or "",
        start_at_ns=start_at_ns,
        release_fd=release_fd,
    )


def _release_options(run: list[tuple[str, str]]) -> tuple[int, int]:
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
