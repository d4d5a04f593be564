"""fio's examples/*.fio with the engine swapped to page_fault and file options removed, read by
``fio --parse-only`` and ``loadgen --parse-only``.

``python -m tests.fio_diff.examples`` prints, per example that fio accepts and loadgen
refuses, the options loadgen refuses (the table in docs/fio-differences.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loadgen.jobfile.options import UNSUPPORTED

from .harness import FIO, ROOT

FILES_REASON = UNSUPPORTED["directory"]
FILE_OPTIONS = {name for name, reason in UNSUPPORTED.items() if reason == FILES_REASON} | {
    "filename", "nrfiles", "nr_files", "filesize", "offset",
}
# a refusal with its reason: an option ("option 'rate' is not supported: ...") or a value
# ("rw=randtrim: trim is not supported: ...")
REFUSED = re.compile(r"(?:option '([^']+)'|: ([a-z_]+=\S*): .*) (?:is|are) not supported")


def examples_dir() -> Path | None:
    """fio's examples: LOADGEN_FIO_EXAMPLES, else ``examples`` in the fio source tree
    LOADGEN_FIO_SRC, else beside an in-tree fio build (LOADGEN_FIO)."""
    named = os.environ.get("LOADGEN_FIO_EXAMPLES")
    source = os.environ.get("LOADGEN_FIO_SRC")
    candidate = (Path(named) if named else Path(source) / "examples" if source
                 else Path(FIO).parent / "examples" if FIO else None)
    return candidate if candidate is not None and candidate.is_dir() else None


# Refusals of options that mean nothing for anonymous memory (files and devices, zoned
# block devices, asynchronous queues, trim); any other refusal is a gap in loadgen.
NO_MEANING_REASONS = {UNSUPPORTED["directory"], UNSUPPORTED["zonecapacity"],
                      UNSUPPORTED["iodepth_batch"]}
NO_MEANING_VALUES = {"rw": ("trim", "randtrim", "trimwrite", "randtrimwrite"),
                     "zonemode": ("zbd",)}
ZONE_SIZED = ("size", "io_size", "offset", "offset_increment", "zoneskip")


def has_no_meaning(refused: str) -> bool:
    """Whether a refused option (``name``) or value (``name=value``) means nothing for
    memory: fio's examples that need only such options are accepted by loadgen otherwise."""
    name, equals, value = refused.partition("=")
    if equals:
        if name in ZONE_SIZED and value.endswith("z"):
            return True  # a count of zoned-block-device zones (fio converts it for zbd only)
        return value.split(":")[0] in NO_MEANING_VALUES.get(name, ())
    return UNSUPPORTED.get(name) in NO_MEANING_REASONS


def for_memory(text: str) -> str:
    """The example with ioengine=page_fault and without file options (sizes come from the
    command line, so every job has the same small region)."""
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "ioengine":
            out.append("ioengine=page_fault")
        elif key not in FILE_OPTIONS:
            out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Verdict:
    name: str
    fio_ok: bool
    loadgen_ok: bool
    refused: list[str]  # options loadgen refuses with a reason
    other: list[str]  # any other loadgen error line


def judge(example: Path, workdir: Path) -> Verdict:
    path = workdir / example.name
    path.write_text(for_memory(example.read_text(errors="replace")))
    args = ["--parse-only", "--size=64m", str(path)]
    fio = subprocess.run([FIO, *args], capture_output=True, text=True, timeout=60, cwd=workdir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ours = subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=60, cwd=workdir, env=env)
    refused, other = [], []
    for line in ours.stderr.splitlines():
        if ": note: " in line:
            continue
        match = REFUSED.search(line)
        if match:
            refused.append(match.group(1) or match.group(2))
        else:
            other.append(line)
    return Verdict(example.name, fio.returncode == 0, ours.returncode == 0, sorted(set(refused)),
                   other)


def table(verdicts: list[Verdict]) -> str:
    lines = ["| example | refused: no meaning for memory | refused: not in loadgen yet |",
             "|---|---|---|"]
    for v in verdicts:
        if v.fio_ok and not v.loadgen_ok:
            meaningless = [f"`{o}`" for o in v.refused if has_no_meaning(o)]
            gaps = [f"`{o}`" for o in v.refused if not has_no_meaning(o)]
            lines.append(f"| {v.name} | {', '.join(meaningless)} | {', '.join(gaps)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import tempfile

    where = examples_dir()
    if where is None:
        sys.exit("set LOADGEN_FIO to an in-tree fio build, or LOADGEN_FIO_EXAMPLES")
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = [judge(example, Path(tmp)) for example in sorted(where.glob("*.fio"))]
    both = sum(v.fio_ok and v.loadgen_ok for v in verdicts)
    refused = sum(v.fio_ok and not v.loadgen_ok for v in verdicts)
    print(f"{len(verdicts)} examples; fio accepts {sum(v.fio_ok for v in verdicts)}; "
          f"both accept {both}; loadgen refuses {refused} of them\n")
    print(table(verdicts), end="")
    for v in verdicts:
        if v.other:
            print(f"{v.name}: fio {'accepts' if v.fio_ok else 'refuses'}; other: {v.other}")
