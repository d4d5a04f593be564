"""fio's terse format (stat.c ``show_thread_status_terse_all``): one line per entry.

Version 3 is the default; 2 and 4 add the trim direction (2 without the version fields),
5 also the bw sample count and the iops statistics of each direction.

Scripts that split fio's terse output on ';' address fields by position, so the
field count (121 for a job without description) and every field's format must
match.  Latencies are in microseconds here, percentiles included (fio divides by
1000); the ns latency buckets are folded into the first us bucket, as fio does to
keep version 3 unchanged.
"""

from __future__ import annotations

from loadgen.plan import READ, WRITE
from loadgen.report.entries import DirEntry, Entry, GroupRunStats, build_entries, group_run_stats
from loadgen.report.fiojson import version_string
from loadgen.results import RunResult
from loadgen.stats import histogram
from loadgen.stats.jobstats import LatencyStat

TERSE_VERSION = 3
TRIM = 2  # fio's DDIR_TRIM: always empty here, but versions 2, 4 and 5 print it
LIST_MAX_LEN = 20  # fio's FIO_IO_U_LIST_MAX_LEN: the percentile columns are always 20


def _lat_fields(stat: LatencyStat) -> list[str]:
    m = stat.moments
    if not m.n:
        return ["0", "0", f"{0.0:f}", f"{0.0:f}"]
    return [
        str(int(m.min) // 1000),
        str(int(m.max) // 1000),
        f"{m.mean / 1000:f}",
        f"{m.stddev / 1000:f}",
    ]


def _ddir_fields(entry: Entry, ddir: int, rs: GroupRunStats, version: int = TERSE_VERSION,
                 mixed: DirEntry | None = None) -> list[str]:
    """fio's ``show_ddir_status_terse``; ``ddir`` 2 is trim, which anonymous memory never does;
    ``mixed`` (unified_rw_reporting=both) is printed with the read slot's group figures."""
    d = mixed if mixed is not None else entry.dirs[ddir] if ddir < len(entry.dirs) else DirEntry()
    bw = iops = 0
    if d.runtime_ms:
        bw = 1000 * d.io_bytes // d.runtime_ms // 1024
        iops = 1000 * d.total_ios // d.runtime_ms
    fields = [str(d.io_bytes >> 10), str(bw), str(iops), str(d.runtime_ms)]
    fields += ["0", "0", f"{0.0:f}", f"{0.0:f}"]  # slat: never measured for a sync engine
    fields += _lat_fields(d.clat)
    plist = entry.percentile_list
    if entry.job.lat_percentiles or entry.job.clat_percentiles:
        # fio walks an empty histogram too: every percentile of a direction without samples is 0
        stat = d.lat if entry.job.lat_percentiles else d.clat
        values = (
            histogram.percentiles(stat.hist, plist) if stat.moments.n else dict.fromkeys(plist, 0)
        )
    else:
        values = {}
    for i in range(LIST_MAX_LEN):
        if i < len(plist) and values:
            fields.append(f"{plist[i]:f}%={values[plist[i]] // 1000}")
        else:
            fields.append("0%=0")
    fields += _lat_fields(d.lat)
    if d.bw.n:
        agg_kib = rs.agg(ddir) // 1024
        p_of_agg = 100.0
        if rs.agg(ddir):
            p_of_agg = min(100.0, d.bw.mean * 100 / agg_kib) if agg_kib else 100.0
        fields += [
            str(int(d.bw.min)),
            str(int(d.bw.max)),
            f"{p_of_agg:f}%",
            f"{d.bw.mean:f}",
            f"{d.bw.stddev:f}",
        ]
    else:
        fields += ["0", "0", f"{0.0:f}%", f"{0.0:f}", f"{0.0:f}"]
    if version == 5:
        fields.append(str(d.bw.n))
        if d.iops.n:
            fields += [str(int(d.iops.min)), str(int(d.iops.max)), f"{d.iops.mean:f}",
                       f"{d.iops.stddev:f}", str(d.iops.n)]
        else:
            fields += ["0", "0", f"{0.0:f}", f"{0.0:f}", "0"]
    return fields


def terse_line(entry: Entry, rs: GroupRunStats, version: int = TERSE_VERSION) -> str:
    if version == 2:
        fields = ["2", entry.name, str(entry.groupid), str(entry.error)]
    else:
        fields = [str(version), version_string(), entry.name, str(entry.groupid), str(entry.error)]
    directions = (READ, WRITE, TRIM) if version != 3 else (READ, WRITE)
    for ddir in (READ,) if entry.unified == "mixed" else directions:
        fields += _ddir_fields(entry, ddir, rs, version)
    if entry.mixed is not None:
        fields += _ddir_fields(entry, READ, rs, version, entry.mixed)
    fields += [
        f"{entry.usr_cpu:f}%",
        f"{entry.sys_cpu:f}%",
        str(entry.ctx),
        str(entry.majf),
        str(entry.minf),
    ]
    fields += [f"{v:3.1f}%" for v in entry.depth_percent()]
    pct = entry.latency_percent()
    total = entry.total_ios
    us = pct[10:20]
    if total:
        us[0] += 100.0 * int(entry.latency_buckets[:10].sum()) / total
    fields += [f"{v:3.2f}%" for v in us]
    fields += [f"{v:3.2f}%" for v in pct[20:32]]
    if entry.job.continue_on_error != "none":  # total errors, first error: memcpy has none
        fields += ["0", "0"]
    line = ";".join(fields)
    if entry.job.description:
        # version 2 puts the description on a line of its own, as fio does
        line += ("\n;" if version == 2 else ";") + entry.job.description
    return line + "\n"


def render_terse(result: RunResult, version: int = TERSE_VERSION) -> str:
    """Every entry's terse line, in fio's order."""
    entries = build_entries(result)
    stats = group_run_stats(entries, result)
    return "".join(terse_line(e, stats[e.groupid], version) for e in entries)
