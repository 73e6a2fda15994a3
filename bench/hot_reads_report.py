"""The hot reads benchmark's figures: per round, medians against the targets, what /metrics
saw, and the lines for README.md."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import psycopg

from bench import scrape, wrk

RATIO_TARGET = 0.35  # every read at least this share of hello-world's req/s
P99_TARGET_MS = 50.0


@dataclass(frozen=True)
class Setting:
    name: str
    workers: int
    threads: int | None  # None: gunicorn's (or the configuration's) own

    def flags(self, config: Path) -> str:
        shown = config.name if config.name == "gunicorn.conf.py" else str(config)
        threads = f" --threads {self.threads}" if self.threads else ""
        return f"gunicorn -c {shown} --workers {self.workers}{threads}"


@dataclass(frozen=True)
class Pair:
    round: int
    read: str
    hello: wrk.Result
    api: wrk.Result

    @property
    def ratio(self) -> float:
        return self.api.rate / self.hello.rate if self.hello.rate else 0.0


@dataclass(frozen=True)
class Sitting:
    """One setting's run: both apps started, checked, measured and stopped."""

    setting: Setting
    flags: str
    pairs: list[Pair]
    load: str  # 1-minute load average before and after the rounds
    metrics_status: int
    metrics_text: str
    sent_by_wrk: Counter[tuple[str, str]]  # (method, path): answers wrk counted
    sent_by_checks: Counter[tuple[str, str]]  # sign-in, checks and the full copy


@dataclass(frozen=True)
class Figures:
    read: str
    api: float
    hello: float
    ratio: float
    p50: float
    p99: float
    non2xx: int
    socket_errors: int
    statuses: Counter[int]

    @property
    def verdicts(self) -> tuple[bool, bool, bool]:
        clean = self.non2xx == 0 and self.socket_errors == 0
        return self.ratio >= RATIO_TARGET, self.p99 <= P99_TARGET_MS, clean


def figures(pairs: list[Pair]) -> list[Figures]:
    """Medians per read over the rounds; non-2xx answers and socket errors summed."""
    found = []
    for read in dict.fromkeys(pair.read for pair in pairs):
        mine = [pair for pair in pairs if pair.read == read]
        statuses: Counter[int] = Counter()
        for pair in mine:
            statuses.update(pair.api.statuses)
        found.append(
            Figures(
                read=read,
                api=statistics.median(p.api.rate for p in mine),
                hello=statistics.median(p.hello.rate for p in mine),
                ratio=statistics.median(p.ratio for p in mine),
                p50=statistics.median(p.api.p50_ms for p in mine),
                p99=statistics.median(p.api.p99_ms for p in mine),
                non2xx=sum(p.api.non2xx for p in mine),
                socket_errors=sum(p.api.socket_errors for p in mine),
                statuses=statuses,
            )
        )
    return found


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _bad(f: Figures) -> str:
    text = str(f.non2xx)
    if f.statuses:
        text += " (" + ", ".join(f"{s}: {n}" for s, n in sorted(f.statuses.items())) + ")"
    if f.socket_errors:
        text += f" +{f.socket_errors} socket errors"
    return text


def setting_table(sitting: Sitting, args: argparse.Namespace) -> str:
    rounds = max(pair.round for pair in sitting.pairs)
    lines = [
        f"\n{sitting.setting.name}: {sitting.flags} (both apps), wrk -t{args.threads} "
        f"-c{args.connections} -d{args.seconds}s, {rounds} round(s), load average {sitting.load}",
        f"\n  {'read':<32} {'round':>5} {'hello req/s':>11} {'hello p99':>9} {'API req/s':>9} "
        f"{'API/hello':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}",
    ]
    for p in sitting.pairs:
        lines.append(
            f"  {p.read:<32} {p.round:>5} {p.hello.rate:11.1f} {p.hello.p99_ms:9.1f} "
            f"{p.api.rate:9.1f} {p.ratio:9.3f} {p.api.p50_ms:7.1f} {p.api.p99_ms:7.1f} "
            f"{p.api.non2xx + p.api.socket_errors:7}"
        )
    lines.append(
        f"\n  medians; targets: API/hello >= {RATIO_TARGET}, p99 <= {P99_TARGET_MS:.0f} ms "
        f"under {args.connections} connections, no non-2xx answer (nor socket error)\n"
        f"  {'read':<32} {'API req/s':>9} {'hello req/s':>11} {'API/hello':>14} "
        f"{'p50 ms':>7} {'p99 ms':>12}  non-2xx"
    )
    for f in figures(sitting.pairs):
        ratio_ok, p99_ok, clean = f.verdicts
        lines.append(
            f"  {f.read:<32} {f.api:9.1f} {f.hello:11.1f} {f.ratio:9.3f} {_mark(ratio_ok)} "
            f"{f.p50:7.1f} {f.p99:7.1f} {_mark(p99_ok)}  {_bad(f)} {_mark(clean)}"
        )
    return "\n".join(lines + metrics_lines(sitting))


def metrics_lines(sitting: Sitting) -> list[str]:
    """The API's own request counts by route beside the answers this run counted."""
    if sitting.metrics_status == 404:
        return ["\n  GET /metrics answered 404: the API has no metrics yet; nothing to compare"]
    if sitting.metrics_status != 200:
        return [f"\n  GET /metrics answered {sitting.metrics_status}; nothing to compare"]
    found = scrape.requests_by_route(sitting.metrics_text)
    if found is None:
        return ["\n  GET /metrics shows no request count with route, method and status labels"]
    totals: Counter[tuple[str, str]] = Counter()
    statuses: dict[tuple[str, str], Counter[str]] = {}
    for (method, route, status), count in found.counts.items():
        totals[(method, route)] += count
        statuses.setdefault((method, route), Counter())[status] += count

    def sent(counter: Counter[tuple[str, str]], method: str, route: str) -> int:
        return sum(
            n for (m, path), n in counter.items() if m == method and scrape.matches(route, path)
        )

    lines = [
        f"\n  /metrics ({found.metric}) beside this run: wrk's answers (warm-up and rounds; a "
        "run's last requests in flight are not counted by wrk) and the checks (sign-in, "
        "checks, full copy)",
        f"  {'method':<6} {'route':<44} {'/metrics':>9} {'wrk':>9} {'checks':>6}  by status",
    ]
    for (method, route), total in totals.most_common():
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[(method, route)].items()))
        lines.append(
            f"  {method:<6} {route:<44} {total:9} {sent(sitting.sent_by_wrk, method, route):9} "
            f"{sent(sitting.sent_by_checks, method, route):6}  {by_status}"
        )
    return lines


def machine(pg_url: str) -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    postgres = "?"
    with contextlib.suppress(psycopg.Error), psycopg.connect(pg_url, connect_timeout=5) as conn:
        postgres = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
    binary, tool = wrk.find(), "wrk ?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        tool = wrk.version(binary or "wrk").replace("[epoll]", "").strip()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), load average {load}; "
        f"Python {platform.python_version()}, gunicorn {version('gunicorn')}, "
        f"Flask {version('flask')}, PostgreSQL {postgres}, {tool}"
    )


def command(args: argparse.Namespace) -> str:
    text = f"python -m bench.hot_reads --seconds {args.seconds} --rounds {args.rounds}"
    if (args.connections, args.threads) != (16, 2):
        text += f" --connections {args.connections} --threads {args.threads}"
    for name in args.only or ():
        text += f" --only {name}"
    text += " --skip-production" * args.skip_production + " --big" * args.big
    return text


def report(args: argparse.Namespace, sittings: list[Sitting], info: str, seed: str) -> None:
    out = sys.stdout
    out.write(f"\nmachine: {info}\ncommand: {command(args)}\n{seed}\n")
    out.write(
        f"\nFor README.md, Performance:\n\nCommand: `.venv/bin/{command(args)}`, on {info}. "
        f"{seed}. wrk -t{args.threads} -c{args.connections}, rounds of {args.seconds} s, "
        "hello-world (bench/hello.py) measured beside each read on the same gunicorn; "
        f"medians of {args.rounds} round(s):\n"
    )
    for sitting in sittings:
        out.write(
            f"\n| `{sitting.flags}`, load {sitting.load} | API req/s | hello-world req/s | "
            f"API/hello (≥ {RATIO_TARGET}) | p50 | p99 (≤ {P99_TARGET_MS:.0f} ms) | non-2xx |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        for f in figures(sitting.pairs):
            ratio_ok, p99_ok, clean = f.verdicts
            out.write(
                f"| `{f.read}` | {f.api:.0f} | {f.hello:.0f} | {f.ratio:.2f} {_mark(ratio_ok)} "
                f"| {f.p50:.1f} ms | {f.p99:.1f} ms {_mark(p99_ok)} | {_bad(f)} {_mark(clean)} |\n"
            )
    out.flush()
