"""fio's per-line substitutions: ``${ENV}`` first, then the reserved ``$keywords``.

Both are plain text replacement on the whole option line, before it is split into key and
value (options.c ``dup_and_sub_options``).  The keyword values describe this machine and are
computed once, like fio's ``fio_keywords_init``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

_ENV = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class SystemFacts:
    """The machine as fio's keywords see it."""

    pagesize: int
    mb_memory: int  # total RAM in MiB, rounded down
    ncpus: int  # configured CPUs, at least 1
    numa_nodes: tuple[int, ...] = (0,)  # online NUMA nodes (one where the kernel shows none)

    @classmethod
    def of_this_machine(cls) -> SystemFacts:
        pagesize = os.sysconf("SC_PAGESIZE")
        mb_memory = os.sysconf("SC_PHYS_PAGES") * pagesize // 2**20
        return cls(pagesize, mb_memory, max(1, os.sysconf("SC_NPROCESSORS_CONF")), online_nodes())

    def keywords(self) -> dict[str, str]:
        return {"$pagesize": str(self.pagesize), "$mb_memory": str(self.mb_memory),
                "$ncpus": str(self.ncpus)}


def online_nodes(path: str = "/sys/devices/system/node/online") -> tuple[int, ...]:
    """The online NUMA nodes (``0-1,3``); ``(0,)`` where the kernel has no NUMA support."""
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return (0,)
    nodes: set[int] = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        nodes.update(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(nodes)) or (0,)


def expand_environment(line: str, environ: Mapping[str, str]) -> str:
    """Replace each ``${NAME}`` by its value; an unset variable becomes empty (as fio)."""
    return _ENV.sub(lambda match: environ.get(match.group(1), ""), line)


def replace_keywords(line: str, facts: SystemFacts) -> tuple[str, bool]:
    """Plain substring replacement of ``$pagesize``/``$mb_memory``/``$ncpus``.

    Returns the new line and whether any keyword was found (fio does arithmetic only then;
    loadgen uses the flag to show the computed value in "job options", as fio does).
    """
    replaced = False
    for keyword, value in facts.keywords().items():
        if keyword in line:
            line = line.replace(keyword, value)
            replaced = True
    return line, replaced
