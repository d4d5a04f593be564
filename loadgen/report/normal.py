"""fio's normal (human) text report, laid out as stat.c prints it.

People compare loadgen's text with fio's side by side, so the job header lines,
per-entry block, percentile columns, unit switching and "Run status group" lines
follow fio's ``show_thread_status_normal``/``show_ddir_status``/``show_group_stats``.
loadgen adds its reproducibility header (kernel, CPU, THP) after the version line.
"""

from __future__ import annotations

import functools
import time

from loadgen.kernel.sysinfo import RunHeader
from loadgen.plan import READ, WRITE, Job, Plan, SsMetric
from loadgen.report.entries import (
    DIRECTIONS,
    DirEntry,
    Entry,
    GroupRunStats,
    build_entries,
    bw_agg_percent,
    group_run_stats,
)
from loadgen.report.fiojson import report_time_ns, version_string
from loadgen.report.units import (
    N2S_BYTE,
    N2S_NONE,
    bw_units,
    is_power_of_2,
    num2str,
    percentile_time_width,
    scale_down_ns,
)
from loadgen.results import RunResult, SteadyStateResult
from loadgen.stats import histogram
from loadgen.stats.jobstats import LatencyStat

DIR_LABELS = {READ: "read", WRITE: "write"}
GROUP_LABELS = {READ: "   READ", WRITE: "  WRITE"}
LAT_RANGES = ("2=", "4=", "10=", "20=", "50=", "100=", "250=", "500=", "750=", "1000=")
LAT_RANGES_MS = LAT_RANGES + ("2000=", ">=2000=")


def job_header_lines(plan: Plan) -> list[str]:
    """fio's per-job line at job creation, and "..." once for a job's clones."""
    lines = []
    for job in plan.jobs:
        if job.subjob != 0:
            if job.numjobs > 1 and job.subjob == job.numjobs - 1:
                lines.append("...")
            continue
        lines.append(_job_line(job))
    return lines


def _job_line(job: Job) -> str:
    pow2 = is_power_of_2(job.kb_base)

    def bs(value: int) -> str:
        return num2str(value, job.significant_figures, 1, pow2, N2S_BYTE)

    (rmin, wmin), (rmax, wmax) = job.bs_min, job.bs_max
    return (f"{job.name}: (g={job.group_id}): rw={job.rw}, bs=(R) {bs(rmin)}-{bs(rmax)}, "
            f"(W) {bs(wmin)}-{bs(wmax)}, (T) {bs(wmin)}-{bs(wmax)}, ioengine=page_fault, iodepth=1")


def starting_line(plan: Plan) -> str:
    """fio's "Starting N processes" (threads counted first, as fio does)."""
    threads = sum(1 for j in plan.jobs if j.thread)
    processes = len(plan.jobs) - threads
    parts = []
    if threads:
        parts.append(f"{threads} thread{'s' if threads > 1 else ''}")
    if processes:
        parts.append(f"{processes} process{'es' if processes > 1 else ''}")
    return "Starting " + " and ".join(parts)


def system_header_lines(header: RunHeader) -> list[str]:
    """loadgen's reproducibility header (``loadgen.kernel.sysinfo.run_header``) in two short
    lines."""
    if not header:
        return []
    cpu = header.get("cpu", {})
    mem = header.get("memory", {})
    thp = header.get("thp", {})
    mthp = thp.get("mthp_enabled", {})
    return [
        f"host: {header.get('hostname', '?')}, kernel={header.get('kernel_release', '?')}, "
        f"cpus={cpu.get('count', '?')} ({cpu.get('model', '?')}), "
        f"mem={mem.get('total_bytes', 0) >> 20}MiB, page={header.get('page_size', '?')}B",
        f"thp: enabled={thp.get('enabled', '?')}, defrag={thp.get('defrag', '?')}"
        + (", mthp: " + ", ".join(f"{k}={v}" for k, v in mthp.items()) if mthp else ""),
    ]


def render_header(result: RunResult) -> str:
    """What fio prints before the run: job lines, version, loadgen's header, "Starting ..."."""
    lines = job_header_lines(result.plan) + [version_string()]
    lines += system_header_lines(result.header)
    lines.append(starting_line(result.plan))
    return "\n".join(lines) + "\n"


def _display_lat(name: str, stat: LatencyStat) -> str:
    """fio's ``display_lat``: min/max/avg/stdev with the unit switched to usec or msec."""
    m = stat.moments
    lo, hi, mean, dev = int(m.min), int(m.max), float(m.mean), float(m.stddev)
    base = "(nsec)"
    if lo > 2_000_000 and hi > 99_999_999 and dev > 1_000_000.0:
        lo, hi, mean, dev, base = lo // 1_000_000, hi // 1_000_000, mean / 1e6, dev / 1e6, "(msec)"
    elif lo > 2000 and hi > 99_999 and dev > 1000.0:
        lo, hi, mean, dev, base = lo // 1000, hi // 1000, mean / 1e3, dev / 1e3, "(usec)"
    return (f"    {name} {base}: min={num2str(lo, 6, 1, False, N2S_NONE)}, "
            f"max={num2str(hi, 6, 1, False, N2S_NONE)}, avg={mean:5.2f}, stdev={dev:5.2f}\n")


def percentile_block(
    stat: LatencyStat, plist: tuple[float, ...], label: str, precision: int = 2
) -> str:
    """fio's ``show_clat_percentiles``: as many per line as fit 80 columns, width from the
    largest value."""
    values = histogram.percentiles(stat.hist, plist)
    if not values:
        return ""
    ordered = [values[p] for p in plist]
    minv, maxv = min(ordered), max(ordered)
    if minv > 2_000_000 and maxv > 99_999_999:
        scale, divisor, unit = 2, 1_000_000, "msec"
    elif minv > 2000 and maxv > 99_999:
        scale, divisor, unit = 1, 1000, "usec"
    else:
        scale, divisor, unit = 0, 1, "nsec"
    width = percentile_time_width(maxv, divisor)
    for _ in range(scale):
        ordered = [(value + 999) // 1000 for value in ordered]
    return (f"    {label} percentiles ({unit}):\n"
            + _percentile_cells(plist, precision, width) % tuple(ordered))


@functools.lru_cache(maxsize=256)
def _percentile_cells(plist: tuple[float, ...], precision: int, width: int) -> str:
    """The cell lines of a percentile block as a ``%d`` template: `` 99.90th=[  123],``,
    as many per line as fit 80 columns."""
    per_line = (80 - 7) // (precision + 10 + width)
    cells = [f" {p:{precision + 3}.{precision}f}th=[%{width}d]" for p in plist]
    lines = [",".join(cells[i:i + per_line]) for i in range(0, len(cells), per_line)]
    return "     |" + ",\n     |".join(lines) + "\n"


def _ddir_block(entry: Entry, ddir: int, rs: GroupRunStats,
                mixed: DirEntry | None = None) -> str:
    """fio's ``show_ddir_status``: the IOPS/BW line, latencies, percentiles, bw/iops samples.

    ``mixed``: unified_rw_reporting=both's sum; fio prints it from a stat whose unit base
    is unset, so its bandwidth has no B/s unit ("2000Mi (2097M)")."""
    d = mixed if mixed is not None else entry.dirs[ddir]
    if not d.runtime_ms:
        return ""
    job = entry.job
    pow2 = is_power_of_2(rs.kb_base)
    units = N2S_NONE if mixed is not None else bw_units(job.unit_base)
    label = "mixed" if mixed is not None or entry.unified == "mixed" else DIR_LABELS[ddir]
    bw = 1000 * d.io_bytes // d.runtime_ms
    iops = 1000 * d.total_ios // d.runtime_ms
    figs = job.significant_figures
    out = [f"  {label}: IOPS={num2str(iops, figs, 1, False, N2S_NONE)}, "
           f"BW={num2str(bw, figs, 1, pow2, units)} ({num2str(bw, figs, 1, not pow2, units)})"
           f"({num2str(d.io_bytes, figs, 1, pow2, N2S_BYTE)}/{d.runtime_ms}msec)\n"]
    if d.clat.moments.n:
        out.append(_display_lat("clat", d.clat))
    if d.lat.moments.n:
        out.append(_display_lat(" lat", d.lat))
    if job.clat_percentiles and d.clat.moments.n:
        out.append(
            percentile_block(d.clat, entry.percentile_list, "clat", entry.percentile_precision)
        )
    if job.lat_percentiles and d.lat.moments.n:
        out.append(
            percentile_block(d.lat, entry.percentile_list, "lat", entry.percentile_precision)
        )
    if d.bw.n:
        lo, hi, mean, dev = int(d.bw.min), int(d.bw.max), float(d.bw.mean), float(d.bw.stddev)
        p_of_agg = bw_agg_percent(mean, rs, ddir)
        label = "KiB" if pow2 else "kB"
        kb = float(rs.kb_base)
        if mean > kb * kb:
            lo, hi, mean, dev, label = int(lo / kb), int(hi / kb), mean / kb, dev / kb, "MiB"
        out.append(f"   bw ({label:>5s}/s): min={lo:5d}, max={hi:5d}, per={p_of_agg:3.2f}%, "
                   f"avg={mean:5.2f}, stdev={dev:5.2f}, samples={d.bw.n}\n")
    if d.iops.n:
        out.append(f"   iops        : min={int(d.iops.min):5d}, max={int(d.iops.max):5d}, "
                   f"avg={d.iops.mean:5.2f}, stdev={d.iops.stddev:5.2f}, samples={d.iops.n}\n")
    return "".join(out)


def _lat_lines(values: list[float], ranges: tuple[str, ...], unit: str) -> str:
    """fio's ``show_lat``: non-zero buckets only, five per line."""
    shown = [(r, v) for r, v in zip(ranges, values, strict=True) if v > 0.0]
    lines = []
    for i in range(0, len(shown), 5):
        chunk = ", ".join(f"{r}{v:3.2f}%" for r, v in shown[i:i + 5])
        lines.append(f"  lat ({unit})   : {chunk}\n")
    return "".join(lines)


@functools.lru_cache(maxsize=64)
def _dist(values: tuple[float, ...], keys: tuple[str, ...]) -> str:
    """An I/O depth line's shares; a storm's entries have the same few (never negative,
    so equal values, the cache key, mean equal text)."""
    return ", ".join(f"{k}={v:3.1f}%" for k, v in zip(keys, values, strict=True))


def entry_block(entry: Entry, rs: GroupRunStats, now_s: int) -> str:
    """fio's ``show_thread_status_normal`` for one entry.  An entry that did no I/O is
    left out, as in fio, unless it failed: then its ``err=`` line alone says so (a job
    that could not map its region or fork its worker is not silently missing)."""
    stamp = time.ctime(now_s)
    if entry.error:
        out = [f"{entry.name}: (groupid={entry.groupid}, jobs={len(entry.members)}): "
               f"err={entry.error:2d} ({entry.error_text}): pid={entry.pid}: {stamp}\n"]
    else:
        out = [f"{entry.name}: (groupid={entry.groupid}, jobs={len(entry.members)}): "
               f"err={entry.error:2d}: pid={entry.pid}: {stamp}\n"]
    if not entry.total_ios and not sum(d.io_bytes for d in entry.dirs):
        return out[0] if entry.error else ""
    if entry.job.description:
        out.append(f"  Description  : [{entry.job.description}]\n")
    for ddir in DIRECTIONS:
        if entry.dirs[ddir].io_bytes:
            out.append(_ddir_block(entry, ddir, rs))
    if entry.mixed is not None and entry.mixed.io_bytes:
        out.append(_ddir_block(entry, READ, rs, entry.mixed))
    pct = entry.latency_percent()
    out.append(_lat_lines(pct[0:10], LAT_RANGES, "nsec"))
    out.append(_lat_lines(pct[10:20], LAT_RANGES, "usec"))
    out.append(_lat_lines(pct[20:32], LAT_RANGES_MS, "msec"))
    if entry.sync.moments.n:  # fio's show_ddir_status(DDIR_SYNC)
        out.append("  fsync/fdatasync/sync_file_range/syncfs:\n")
        out.append(_display_lat("sync", entry.sync))
        out.append(percentile_block(entry.sync, entry.percentile_list, "sync",
                                    entry.percentile_precision))
    out.append(f"  cpu          : usr={entry.usr_cpu:3.2f}%, sys={entry.sys_cpu:3.2f}%, "
               f"ctx={entry.ctx}, majf={entry.majf}, minf={entry.minf}\n")
    out.append(
        "  IO depths    : "
        + _dist(tuple(entry.depth_percent()), ("1", "2", "4", "8", "16", "32", ">=64"))
        + "\n"
    )
    submit = _dist(tuple(entry.submit_percent()), ("0", "4", "8", "16", "32", "64", ">=64"))
    out.append(f"     submit    : {submit}\n")
    out.append(f"     complete  : {submit}\n")
    r, w = entry.dirs[READ].total_ios, entry.dirs[WRITE].total_ios
    out.append(f"     issued rwts: total={r},{w},0,{entry.syncs} short=0,0,0,0 "
               "dropped=0,0,0,0\n")
    if entry.job.continue_on_error != "none":  # memcpy into anonymous memory has no I/O errors
        out.append("     errors    : total=0, first_error=0/<Success>\n")
    target, target_unit = scale_down_ns(0)
    out.append(
        f"     latency   : target={target:.2f}{target_unit}, window={target:.2f}{target_unit}, "
        f"percentile=100.00%, depth=1\n"
    )
    if entry.steadystate is not None:
        out.append(_steadystate_line(entry.job, entry.steadystate))
    return "".join(out)


def _steadystate_line(job: Job, r: SteadyStateResult) -> str:
    """fio's ``show_ss_normal``.  Its latency is always in nsec: fio scales a value only
    when its deviation is large, and it passes a deviation of 0."""
    ss = job.steadystate
    figs, kb = job.significant_figures, job.kb_base
    pow2 = is_power_of_2(kb)
    bw = r.mean(r.bw) // kb
    units = bw_units(job.unit_base)
    lat = ""
    if ss.metric is SsMetric.LAT:
        lat = f", lat={num2str(r.mean(r.lat), figs, 1, False, N2S_NONE)}nsec"
    kind = f"{ss.metric}{' slope' if ss.slope else ' mean dev'}"
    return (f"  steadystate  : attained={'yes' if r.attained else 'no'}, "
            f"bw={num2str(bw, figs, kb, pow2, units)} ({num2str(bw, figs, kb, not pow2, units)}), "
            f"iops={num2str(r.mean(r.iops), figs, 1, False, N2S_NONE)}{lat}, "
            f"{kind}={r.criterion:.3f}{'%' if ss.pct else ''}\n")


def group_block(rs: GroupRunStats) -> str:
    """fio's ``show_group_stats``: aggregate bw, per-entry bw range, io and runtime range."""
    out = [f"\nRun status group {rs.groupid} (all jobs):\n"]
    pow2 = is_power_of_2(rs.kb_base)
    units = bw_units(rs.unit_base)

    def both(value: int, unit: int) -> tuple[str, str]:
        return (num2str(value, rs.sig_figs, 1, pow2, unit),
                num2str(value, rs.sig_figs, 1, not pow2, unit))

    def line(label: str, io_bytes: int, agg_bps: int, lo_bps: int, hi_bps: int, run: str) -> str:
        io, io_alt = both(io_bytes, N2S_BYTE)
        agg, agg_alt = both(agg_bps, units)
        lo, lo_alt = both(lo_bps, units)
        hi, hi_alt = both(hi_bps, units)
        return (f"{label}: bw={agg} ({agg_alt}), {lo}-{hi} ({lo_alt}-{hi_alt}), "
                f"io={io} ({io_alt}), run={run}msec\n")

    active = [ddir for ddir in DIRECTIONS if rs.max_run[ddir]]
    for ddir in active:
        label = "  MIXED" if rs.unified == "mixed" else GROUP_LABELS[ddir]
        out.append(line(label, rs.io_bytes[ddir], rs.agg(ddir), rs.min_bw[ddir], rs.max_bw[ddir],
                        f"{rs.min_run[ddir]}-{rs.max_run[ddir]}"))
    if rs.unified == "both" and active:  # fio's show_mixed_group_stats
        out.append(line("  MIXED", sum(rs.io_bytes[d] for d in active),
                        sum(rs.agg(d) for d in active), min(rs.min_bw[d] for d in active),
                        max(rs.max_bw[d] for d in active),
                        f"{min(rs.min_run[d] for d in active)}-"
                        f"{max(rs.max_run[d] for d in active)}"))
    return "".join(out)


def render_report(result: RunResult) -> str:
    """The end-of-run part: a blank line, every entry's block, then every group's line."""
    entries = build_entries(result)
    stats = group_run_stats(entries, result)
    now_s = report_time_ns(result) // 1_000_000_000
    out = ["\n"]
    out += [entry_block(e, stats[e.groupid], now_s) for e in entries]
    out += [group_block(rs) for rs in stats.values()]
    return "".join(out)


def render_normal(result: RunResult) -> str:
    """The whole normal-format output: fio's start-of-run header, then the report."""
    return render_header(result) + render_report(result)
