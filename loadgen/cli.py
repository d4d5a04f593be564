"""The ``loadgen`` command line: ``loadgen plan`` and ``loadgen run``."""

from __future__ import annotations

import sys

from loadgen.errors import InputError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        raise InputError("not implemented yet")
    except InputError as exc:
        print(f"loadgen: {exc}" if not exc.location else str(exc), file=sys.stderr)
        return 2
