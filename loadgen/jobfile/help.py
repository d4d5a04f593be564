"""``--cmdhelp`` text and docs/options.md, both rendered from the option table.

Regenerate the document with ``python -m loadgen.jobfile.help > docs/options.md``; a test
checks that the checked-in file equals this output.
"""

from __future__ import annotations

from loadgen.errors import InputError
from loadgen.jobfile.options import BY_NAME, OPTIONS, UNSUPPORTED, Option, closest
from loadgen.jobfile.resolve import COMMAND_LINE


def _categories() -> dict[str, list[Option]]:
    grouped: dict[str, list[Option]] = {}
    for option in OPTIONS:
        grouped.setdefault(option.category, []).append(option)
    return grouped


def options_overview() -> str:
    """``--cmdhelp`` without an option: every option with its one-line help."""
    lines = []
    for category, options in _categories().items():
        lines.append(f"{category}:")
        lines += [f"  {option.name:<24} : {option.help}" for option in options]
    lines.append("Use --cmdhelp=OPTION for details.")
    return "\n".join(lines) + "\n"


def option_help(name: str) -> str:
    """``--cmdhelp=OPTION``: the option's details, as fio's ``show_option_help``."""
    if name == "all":
        return options_overview()
    option = BY_NAME.get(name)
    if option is None:
        if name in UNSUPPORTED:
            return f"{name}: not supported: {UNSUPPORTED[name]}\n"
        suggestion = closest(name)
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        raise InputError(f"--cmdhelp: no such option {name!r}{hint}", COMMAND_LINE)
    rows = [("name", option.name)]
    if option.aliases:
        rows.append(("alias", ", ".join(option.aliases)))
    rows += [("type", option.kind.label), ("default", option.kind.show(option.default)),
             ("help", option.help)]
    rows += [("", detail) for detail in option.kind.describe()]
    return "".join(
        f"{label:<12}: {text}\n" if label else f"{'':<14}{text}\n" for label, text in rows
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def options_markdown() -> str:
    """docs/options.md: every supported option, then every refused fio option with the reason."""
    out = [
        "# loadgen job options",
        "",
        "Generated from `loadgen/jobfile/options.py` by `python -m loadgen.jobfile.help > "
        "docs/options.md`; do not edit by hand. The same table drives parsing and "
        "`loadgen run --cmdhelp[=OPTION]`. Value syntax (sizes, times, arithmetic, lists) is in "
        "[fio-differences.md](fio-differences.md) and fio's HOWTO.",
        "",
    ]
    for category, options in _categories().items():
        out += [f"## {category}", "", "| option | aliases | type | default | meaning |",
                "|---|---|---|---|---|"]
        for option in options:
            meaning = "<br>".join([_cell(option.help), *map(_cell, option.kind.describe())])
            out.append(
                f"| `{option.name}` | {', '.join(f'`{a}`' for a in option.aliases)} | "
                f"{option.kind.label} | {_cell(option.kind.show(option.default))} | {meaning} |"
            )
        out.append("")
    out += ["## fio options loadgen refuses", "",
            "These are real fio options that have no meaning for anonymous memory or are not "
            "implemented; a job file that uses one fails with the reason below.", "",
            "| reason | options |", "|---|---|"]
    by_reason: dict[str, list[str]] = {}
    for name, reason in UNSUPPORTED.items():
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        out.append(f"| {_cell(reason)} | {', '.join(f'`{n}`' for n in sorted(names))} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(options_markdown(), end="")
