"""Where a workflow run's time went: one row per rule, from Snakemake's own run log (when each job started and
finished, hence how many ran side by side) and the rules' `benchmark:` files (CPU time, peak memory).

    python -m reports.profile                      # newest log in .snakemake/log, benchmarks/ beside it
    python -m reports.profile --root .smoke                 # the smoke run of make smoke
    python -m reports.profile --out docs/profile.md
    snakemake --forceall --dag dot -- all > dag.dot; python -m reports.profile --dag dag.dot   # + critical path

Wall time is the sum of a rule's job durations (one-second resolution, as Snakemake logs them); "in parallel"
is the mean number of jobs running during that rule's jobs, so a rule at 2.0 on 2 cores shared the machine
the whole time. A rule without a benchmark file shows no CPU time; the row still counts its wall time.

Two lines under the table say whether more speed can come from scheduling alone: how long all `--cores` were busy
(jobs weighted by their threads), and, given the DAG of the same targets (`--dag`: Snakemake numbers its jobs the
same way when it builds the same DAG, checked rule by rule), the critical path: the longest chain of dependent
jobs at their measured durations, the least wall time any number of cores could give."""
import argparse
import csv
import re
from collections import defaultdict
from datetime import datetime
from graphlib import TopologicalSorter
from pathlib import Path

_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_FIELD = re.compile(r"^\s+(jobid|benchmark|threads): (.+)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")
_DOT_NODE = re.compile(r'^\s*(\d+)\[label = "([^"\\]+)', re.M)
_DOT_EDGE = re.compile(r"^\s*(\d+) -> (\d+)", re.M)


def parse_log(text: str) -> list[dict]:
    """Jobs of one Snakemake run log: rule, jobid, benchmark path or None, threads, start and end times."""
    jobs, open_jobs, stamp, current = [], {}, None, None
    for line in text.splitlines():
        if m := _STAMP.match(line.strip()):
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
            current = None
        elif m := _START.match(line):
            current = {"rule": m.group(1), "start": stamp, "benchmark": None, "threads": 1, "jobid": None}
        elif current is not None and (m := _FIELD.match(line)):
            key, value = m.groups()
            if key == "jobid":
                current["jobid"] = value.strip()
                open_jobs[current["jobid"]] = current
            elif key == "threads":
                current["threads"] = int(value)
            else:
                current["benchmark"] = value.strip()
        elif m := _FINISHED.match(line.strip()):
            job = open_jobs.pop(m.group(1), None)
            if job is not None:
                job["end"] = stamp
                jobs.append(job)
    return jobs


def read_benchmark(path: Path) -> dict | None:
    """The first measured row of a Snakemake benchmark TSV (cpu_time, max_rss), or None when it is absent."""
    if not path.is_file():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return None

    def number(key):
        try:
            return float(rows[0][key])
        except (KeyError, ValueError):
            return None
    return {"cpu_time": number("cpu_time"), "max_rss": number("max_rss")}


def _overlap(job, jobs) -> float:
    """Mean number of jobs running while `job` ran (itself included)."""
    span = (job["end"] - job["start"]).total_seconds()
    if span <= 0:
        return 1.0
    busy = sum(max(0.0, (min(job["end"], o["end"]) - max(job["start"], o["start"])).total_seconds()) for o in jobs)
    return busy / span


def profile(jobs: list[dict], root: Path) -> tuple[list[dict], dict]:
    """Per-rule rows sorted by wall time, and totals (elapsed from first start to last finish)."""
    rules: dict[str, dict] = {}
    for job in jobs:
        wall = (job["end"] - job["start"]).total_seconds()
        bench = read_benchmark(root / job["benchmark"]) if job["benchmark"] else None
        row = rules.setdefault(job["rule"], {"rule": job["rule"], "jobs": 0, "wall_s": 0.0, "cpu_s": None,
                                             "max_rss_mb": None, "weighted_parallel": 0.0, "threads": 0})
        row["jobs"] += 1
        row["wall_s"] += wall
        row["threads"] = max(row["threads"], job["threads"])
        row["weighted_parallel"] += _overlap(job, jobs) * max(wall, 1e-9)
        if bench and bench["cpu_time"] is not None:
            row["cpu_s"] = (row["cpu_s"] or 0.0) + bench["cpu_time"]
        if bench and bench["max_rss"] is not None:
            row["max_rss_mb"] = max(row["max_rss_mb"] or 0.0, bench["max_rss"])
    total_wall = sum(r["wall_s"] for r in rules.values()) or 1.0
    for row in rules.values():
        row["share"] = row["wall_s"] / total_wall
        row["parallel"] = row.pop("weighted_parallel") / max(row["wall_s"], 1e-9)
    elapsed = (max(j["end"] for j in jobs) - min(j["start"] for j in jobs)).total_seconds() if jobs else 0.0
    totals = {"jobs": len(jobs), "elapsed_s": elapsed, "job_wall_s": sum(r["wall_s"] for r in rules.values()),
              "cpu_s": sum(r["cpu_s"] or 0.0 for r in rules.values())}
    return sorted(rules.values(), key=lambda r: -r["wall_s"]), totals


def core_use(jobs: list[dict], cores: int) -> dict[int, float]:
    """Seconds of the run during which k of `cores` were busy (a job holds its threads; k capped at cores)."""
    steps: dict[float, int] = defaultdict(int)
    t0 = min(j["start"] for j in jobs)
    for job in jobs:
        steps[(job["start"] - t0).total_seconds()] += job["threads"]
        steps[(job["end"] - t0).total_seconds()] -= job["threads"]
    busy, last, use = 0, 0.0, defaultdict(float)
    for t in sorted(steps):
        if t > last:
            use[min(busy, cores)] += t - last
        busy, last = busy + steps[t], t
    return dict(use)


def critical_path(jobs: list[dict], dot: str) -> tuple[float, list[str]]:
    """Longest chain of dependent jobs (seconds, rules in order) through the DAG of `snakemake --dag dot`, whose
    node numbers must be the run's job ids: every job's rule is checked against its node's label."""
    labels = dict(_DOT_NODE.findall(dot))
    by_id = {job["jobid"]: job for job in jobs}
    wrong = [f"job {i}: log {j['rule']}, DAG {labels.get(i, 'no node')}" for i, j in by_id.items()
             if labels.get(i) != j["rule"]]
    if wrong:
        raise SystemExit(f"--dag is not this run's DAG ({len(wrong)} jobs differ, e.g. {wrong[0]}): write it with "
                         "`snakemake --forceall --dag dot -- TARGETS` for the run's own targets and config")
    parents = defaultdict(list)
    for before, after in _DOT_EDGE.findall(dot):
        parents[after].append(before)
    seconds = {i: (j["end"] - j["start"]).total_seconds() for i, j in by_id.items()}
    finish: dict[str, float] = {}
    for n in TopologicalSorter({i: parents[i] for i in labels}).static_order():  # parents before children
        finish[n] = seconds.get(n, 0.0) + max((finish[p] for p in parents[n]), default=0.0)
    end = max(by_id, key=finish.__getitem__)
    chain = [end]
    while parents[chain[-1]]:
        chain.append(max(parents[chain[-1]], key=lambda p: finish[p]))
    return finish[end], [by_id[i]["rule"] for i in reversed(chain) if i in by_id]


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes}:{s:02d}"


def render(rows: list[dict], totals: dict, logs: list[Path], use: dict[int, float] | None = None, cores: int = 2,
           path: tuple[float, list[str]] | None = None) -> str:
    names = ", ".join(f"`{log.name}`" for log in logs)
    lines = [f"Run log{'s' if len(logs) > 1 else ''} {names}: {totals['jobs']} jobs, "
             f"{_clock(totals['elapsed_s'])} from first start to last finish (m:s), "
             f"{_clock(totals['job_wall_s'])} of job wall time, {_clock(totals['cpu_s'])} of benchmarked CPU time.",
             "",
             "| rule | jobs | wall (m:s) | share | CPU (m:s) | CPU / wall | in parallel | threads | peak RSS (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = "–" if r["cpu_s"] is None else _clock(r["cpu_s"])
        ratio = "–" if r["cpu_s"] is None or r["wall_s"] == 0 else f"{r['cpu_s'] / r['wall_s']:.2f}"
        rss = "–" if r["max_rss_mb"] is None else f"{r['max_rss_mb']:.0f}"
        lines.append(f"| {r['rule']} | {r['jobs']} | {_clock(r['wall_s'])} | {100 * r['share']:.1f}% | {cpu} | "
                     f"{ratio} | {r['parallel']:.2f} | {r['threads']} | {rss} |")
    if use is not None:
        fewer = ", ".join(f"{k}: {_clock(s)}" for k, s in sorted(use.items()) if k < cores and s > 0) or "none"
        lines += ["", f"All {cores} cores busy {_clock(use.get(cores, 0.0))} of {_clock(totals['elapsed_s'])} "
                      f"(time with fewer cores busy, by count: {fewer})."]
    if path is not None:
        seconds, chain = path
        lines += ["", f"Critical path {_clock(seconds)}: {' → '.join(chain)}."]
    return "\n".join(lines) + "\n"


def newest_log(root: Path) -> Path:
    logs = sorted((root / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        raise SystemExit(f"no Snakemake run log under {root / '.snakemake' / 'log'}: run the workflow first, "
                         "or pass --log")
    return logs[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Per-rule time profile of one Snakemake run: wall and CPU time, "
                                     "share of the total, jobs running side by side, peak memory.")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the workflow's working folder (holds .snakemake/ and benchmarks/); default: here")
    parser.add_argument("--log", type=Path, nargs="+", help="Snakemake run logs (several: a run resumed after an "
                        "interruption, profiled as one); default: the newest under ROOT")
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--cores", type=int, default=2, help="cores the run had, for the time all were busy "
                        "(default 2)")
    parser.add_argument("--dag", type=Path, help="the run's DAG as `snakemake --forceall --dag dot -- TARGETS` "
                        "writes it: adds the critical path")
    args = parser.parse_args(argv)
    logs = args.log or [newest_log(args.root)]
    missing = [str(log) for log in logs if not log.is_file()]
    if missing:
        raise SystemExit(f"--log: no such file {', '.join(missing)} (run logs are under ROOT/.snakemake/log/)")
    jobs = [job for log in logs for job in parse_log(log.read_text())]
    if not jobs:
        raise SystemExit(f"{', '.join(map(str, logs))}: no finished job recorded")
    if args.dag and not args.dag.is_file():
        raise SystemExit(f"--dag: no such file {args.dag}")
    path = critical_path(jobs, args.dag.read_text()) if args.dag else None
    text = render(*profile(jobs, args.root), logs, core_use(jobs, args.cores), args.cores, path)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
