#!/usr/bin/env python3
"""Which Python copy primitive should the engine's fault loop use? ns per 4 KiB block.

Each primitive copies one block into every block-sized slot of an anonymous private mmap,
front to back, once on fresh memory (every block faults a page) and once on memory that
is already faulted (pure copy plus Python overhead). Primitives run interleaved, in
reversed order every other round, and the table gives the median over rounds. mmap and
munmap stay outside the timed window, as in fio and pflimit.

    python scripts/bench_copy.py --size-mib 64 --rounds 7 --json-out copy.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

Loop = Callable[[mmap.mmap, bytes, int, int, int], None]


def mmap_slice(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    for _ in range(passes):
        for offset in range(0, count * bs, bs):
            region[offset : offset + bs] = block


def memoryview_slice(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    view = memoryview(region)
    try:
        for _ in range(passes):
            for offset in range(0, count * bs, bs):
                view[offset : offset + bs] = block
    finally:
        view.release()


def mmap_write_sequential(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    """Only for front-to-back patterns: write() advances the position itself."""
    write = region.write
    for _ in range(passes):
        region.seek(0)
        for _ in range(count):
            write(block)


def numpy_row_assign(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    rows = np.frombuffer(region, dtype=np.uint8, count=count * bs).reshape(count, bs)
    source = np.frombuffer(block, dtype=np.uint8)
    for _ in range(passes):
        for index in range(count):
            rows[index] = source
    del rows


def numpy_copyto_rows(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    rows = np.frombuffer(region, dtype=np.uint8, count=count * bs).reshape(count, bs)
    source = np.frombuffer(block, dtype=np.uint8)
    copyto = np.copyto
    for _ in range(passes):
        for index in range(count):
            copyto(rows[index], source)
    del rows


def numpy_broadcast_all(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    """One C loop for every block: the floor of a vectorised batch (no per-op timing)."""
    rows = np.frombuffer(region, dtype=np.uint8, count=count * bs).reshape(count, bs)
    source = np.frombuffer(block, dtype=np.uint8)
    for _ in range(passes):
        rows[:] = source
    del rows


BATCH = 64


def numpy_batch_assign(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    """BATCH blocks per numpy call: per-batch (not per-block) timing would cost this much."""
    rows = np.frombuffer(region, dtype=np.uint8, count=count * bs).reshape(count, bs)
    source = np.frombuffer(block, dtype=np.uint8)
    for _ in range(passes):
        for start in range(0, count, BATCH):
            rows[start : start + BATCH] = source
    del rows


def ctypes_memmove(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    anchor = ctypes.c_char.from_buffer(region)
    base = ctypes.addressof(anchor)
    source = ctypes.create_string_buffer(block, bs)
    memmove = ctypes.memmove
    for _ in range(passes):
        for offset in range(0, count * bs, bs):
            memmove(base + offset, source, bs)
    del anchor


def mmap_slice_timed(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    """mmap_slice plus two perf_counter_ns calls per block: the price of per-op latency."""
    clock = time.perf_counter_ns
    latency_total = 0
    for _ in range(passes):
        for offset in range(0, count * bs, bs):
            started = clock()
            region[offset : offset + bs] = block
            latency_total += clock() - started


def empty_loop(region: mmap.mmap, block: bytes, bs: int, count: int, passes: int) -> None:
    """The bare range loop: what any per-block Python loop costs before copying anything."""
    for _ in range(passes):
        for _offset in range(0, count * bs, bs):
            pass


PRIMITIVES: dict[str, Loop] = {
    "mmap[a:b] = bytes": mmap_slice,
    "memoryview[a:b] = bytes": memoryview_slice,
    "mmap.write (sequential)": mmap_write_sequential,
    "ndarray rows[i] = src": numpy_row_assign,
    "np.copyto(rows[i], src)": numpy_copyto_rows,
    "ctypes.memmove": ctypes_memmove,
    f"rows[i:i+{BATCH}] = src (batches)": numpy_batch_assign,
    "rows[:] = src (one call)": numpy_broadcast_all,
    "mmap[a:b] + 2x perf_counter_ns": mmap_slice_timed,
    "empty loop": empty_loop,
}


STATES = ("fresh", "faulted", "cache-hot")


def time_once(loop: Loop, size: int, bs: int, block: bytes, prefault: bool, passes: int) -> float:
    """ns per block for PASSES passes over a new mapping (pre-touched first when PREFAULT)."""
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        count = size // bs
        if prefault:
            numpy_broadcast_all(region, block, bs, count, 1)
        started = time.perf_counter_ns()
        loop(region, block, bs, count, passes)
        elapsed = time.perf_counter_ns() - started
        if loop is not empty_loop and region[size - bs : size - bs + 1] != block[:1]:
            raise RuntimeError("the primitive did not write the last block")
    finally:
        region.close()
    return elapsed / (count * passes)


def measure(size: int, bs: int, rounds: int, hot_pages: int, hot_passes: int) -> dict[str, dict[str, list[float]]]:
    """{primitive: {state: [ns per block per round]}}.

    fresh: one pass over new memory (each block faults); faulted: one pass over memory
    already touched (copy plus Python, memory-bandwidth bound at this size); cache-hot:
    HOT_PASSES passes over HOT_PAGES pages (fio's page_fault_cache_hot: Python overhead).
    """
    block = bytes([0xA5]) * bs
    hot_size = hot_pages * mmap.PAGESIZE
    settings = {
        "fresh": (size, False, 1),
        "faulted": (size, True, 1),
        "cache-hot": (hot_size, True, hot_passes),
    }
    names = list(PRIMITIVES)
    results: dict[str, dict[str, list[float]]] = {name: {state: [] for state in STATES} for name in names}
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            for state, (region_size, prefault, passes) in settings.items():
                ns = time_once(PRIMITIVES[name], region_size, bs, block, prefault, passes)
                results[name][state].append(ns)
    return results


def render(results: dict[str, dict[str, list[float]]], heading: str) -> str:
    lines = [
        heading,
        "",
        "| primitive | fresh ns/block | faulted ns/block | cache-hot ns/block | fresh min-max |",
        "|---|---|---|---|---|",
    ]
    for name, by_state in results.items():
        medians = [f"{statistics.median(by_state[state]):.0f}" for state in STATES]
        spread = f"{min(by_state['fresh']):.0f}-{max(by_state['fresh']):.0f}"
        lines.append(f"| {name} | {' | '.join(medians)} | {spread} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--bs", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hot-pages", type=int, default=64, help="cache-hot region, pages")
    parser.add_argument("--hot-passes", type=int, default=200, help="cache-hot passes per measurement")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    sizes = (args.size_mib, args.bs, args.rounds, args.hot_pages, args.hot_passes)
    if min(sizes) < 1 or (args.size_mib << 20) % args.bs or (args.hot_pages * mmap.PAGESIZE) % args.bs:
        print("bench_copy: sizes must be positive and --bs must divide the region", file=sys.stderr)
        return 2
    size = args.size_mib << 20
    results = measure(size, args.bs, args.rounds, args.hot_pages, args.hot_passes)
    heading = (
        f"{args.size_mib} MiB region (cache-hot: {args.hot_pages} pages x {args.hot_passes} passes), "
        f"{args.bs} B blocks, median of {args.rounds} interleaved rounds "
        f"(Python {platform.python_version()}, numpy {np.__version__})."
    )
    sys.stdout.write(render(results, heading))
    if args.json_out:
        document = {
            "size_bytes": size,
            "bs": args.bs,
            "rounds": args.rounds,
            "hot_pages": args.hot_pages,
            "hot_passes": args.hot_passes,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "ns_per_block": results,
        }
        with open(args.json_out, "w") as handle:
            json.dump(document, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
