"""Hot reads: the API's most frequent reads under wrk, beside a hello-world Flask app served
by the same gunicorn on the same settings.

Run by hand from the repository root (never part of the test suite):

    .venv/bin/python -m bench.hot_reads [--seconds 10] [--rounds 2] [--only READ] [--big]

Everything runs on loopback and is removed at the end: a SeaweedFS S3 store, a fresh
PostgreSQL database (127.0.0.1:5432, user postgres, trust), migrated and loaded with the demo
district (``flask --app wsgi demo-seed``; with ``--big`` instead bench.sync's grid of 2,000
buildings and a year of field work), the API (``wsgi:app``) and ``bench.hello:app``.

For each setting (``gunicorn -w 2``, then the README's production ``--workers 4 --threads
4``; both apps alike, with the repository's gunicorn.conf.py if there is one, else
``-c /dev/null``) it signs the grid staff account in once, checks every read once (200 and
the body it should be), warms both apps up, then alternates wrk runs of hello-world and the
API, a read at a time, round after round. It reports req/s, API/hello-world of the same
round, p50 and p99 latency and non-2xx answers (counted in wrk's Lua), then the request
counts the API's ``/metrics`` shows beside what the run sent, and the lines for README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import urllib3

from bench import wrk
from bench.hot_reads_report import Pair, Setting, Sitting, machine, report, setting_table
from bench.services import (
    PG_ADMIN_URL,
    ROOT,
    BenchError,
    Server,
    flask,
    gunicorn,
    postgres_database,
    seaweedfs,
    server_env,
)
from fieldapi.demo.seed import ACCOUNTS

READS = {
    "building": "GET /api/v1/buildings/{id}",
    "buildings": "GET /api/v1/buildings?limit=50",
    "inbox": "GET /api/v1/inbox",
    "sync": "GET /api/v1/sync?cursor=…",
    "me": "GET /api/v1/me",
}
SETTINGS = (Setting("gunicorn -w 2", 2, None), Setting("production settings", 4, 4))
DEMO_USER = "gridworker1"  # grid staff of 网格 1: twelve buildings, reviews waiting
DEMO_PASSWORD = next(a.password for a in ACCOUNTS if a.username == DEMO_USER)
BIG = (2000, 20000)  # bench.sync's default grid: buildings, inspections
WARMUP_SECONDS = 2
REQUEST_TIMEOUT = 60.0
TOKEN_MARGIN = 60.0  # refresh when a token would expire within a run and this much more
SETUP_SECONDS, BIG_SEED_SECONDS = 150, 300  # for the up-front estimate of the run's length


class Client:
    """One account, signed in once through the API; counts what it sends by path."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.http = urllib3.PoolManager(retries=False, timeout=REQUEST_TIMEOUT)
        self.base_url = ""
        self.sent: Counter[tuple[str, str]] = Counter()
        self.access = self.refresh_token = ""
        self.expires_at = 0.0

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        bearer = self.access if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.sent[(method, urllib.parse.urlsplit(path).path)] += 1
        answer = self.http.request(method, self.base_url + path, body=body, headers=headers)
        if answer.status != 200:
            raise BenchError(f"{method} {path} answered {answer.status}: {answer.data[:300]!r}")
        return answer

    def get(self, path: str) -> tuple[Any, int]:
        answer = self.request("GET", path)
        return answer.json(), len(answer.data)

    def _signed(self, answer: Any) -> None:
        tokens = answer.json()
        self.access, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.expires_at = time.monotonic() + tokens["expires_in"]

    def login(self) -> None:
        credentials = {"username": self.username, "password": self.password}
        self._signed(self.request("POST", "/api/v1/auth/login", token="", body=credentials))

    def token(self, lasting: float) -> str:
        """An access token that stays valid for ``lasting`` seconds more."""
        if time.monotonic() + lasting + TOKEN_MARGIN > self.expires_at:
            self._signed(self.request("POST", "/api/v1/auth/refresh", token=self.refresh_token))
        return self.access


def full_copy(client: Client, deadline: float) -> tuple[str, int, int]:
    """Pull the caller's whole copy: the cursor after it, pages and objects."""
    cursor, pages, objects = "", 0, 0
    while time.monotonic() < deadline:
        query = f"?cursor={urllib.parse.quote(cursor, safe='')}" if cursor else ""
        page, _size = client.get("/api/v1/sync" + query)
        pages += 1
        objects += sum(len(change["upserted"]) for change in page["changes"].values())
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor, pages, objects
    raise BenchError("time limit reached during the full copy")


def prepare(client: Client, names: list[str], cursor: str) -> dict[str, tuple[str, str]]:
    """The path of each read, each checked once (200 and the body it should be), and what
    its answer held."""
    listing, _size = client.get("/api/v1/buildings?limit=50")
    if not listing["items"]:
        raise BenchError(f"{client.username} has no building in scope")
    building = listing["items"][0]
    paths = {
        "building": f"/api/v1/buildings/{building['id']}",
        "buildings": "/api/v1/buildings?limit=50",
        "inbox": "/api/v1/inbox",
        "sync": f"/api/v1/sync?cursor={urllib.parse.quote(cursor, safe='')}",
        "me": "/api/v1/me",
    }
    checked = {}
    for name in names:
        body, size = client.get(paths[name])
        if name == "building" and body.get("id") == building["id"]:
            seen = f"the file of {body['code']}"
        elif name == "buildings" and building["id"] in {item["id"] for item in body["items"]}:
            seen = f"{len(body['items'])} buildings on the page"
        elif name == "inbox" and body.get("items"):
            kinds = Counter(item["kind"] for item in body["items"])
            listed = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
            seen = f"{len(body['items'])} items waiting ({listed})"
        elif name == "sync" and body.get("has_more") is False and "changes" in body:
            changed = sum(len(c["upserted"]) + len(c["deleted"]) for c in body["changes"].values())
            seen = f"a delta of {changed} objects"
        elif name == "me" and body.get("username") == client.username:
            seen = f"{body['username']}, {body['role']}"
        else:
            raise BenchError(f"GET {paths[name]} answered 200 but not as it should: {body!r:.300}")
        print(f"  checked {READS[name]}: 200, {size} bytes, {seen}", flush=True)
        checked[name] = (paths[name], f"{seen} ({size} bytes)")
    return checked


class Rig:
    """What every wrk run needs, and the time left."""

    def __init__(self, args: argparse.Namespace, work: Path, deadline: float, client: Client):
        self.args, self.work, self.deadline, self.client = args, work, deadline, client
        self.binary = wrk.find() or ""
        self.runs = 0
        self.started = time.monotonic()  # reset by run() to its own start
        self.cursor = ""  # after the full copy, taken once
        self.copy = ""
        self.seen: dict[str, str] = {}  # what each read's first check answered

    def wrk(self, url: str, seconds: int) -> wrk.Result:
        if time.monotonic() + seconds + 15 > self.deadline:
            raise BenchError("time limit reached")
        self.runs += 1
        return wrk.run(
            self.binary,
            url,
            token=self.client.token(seconds),
            seconds=seconds,
            threads=self.args.threads,
            connections=self.args.connections,
            script=self.work / f"run{self.runs}.lua",
            log=self.work / "wrk.log",
        )


def check_hello(hello: Server) -> None:
    answer = urllib3.request("GET", hello.base_url + "/", timeout=10.0, retries=False)
    if answer.status != 200 or answer.json() != {"hello": "world"}:
        raise BenchError(f"hello-world answered {answer.status}: {answer.data[:300]!r}")


def sitting(rig: Rig, env: dict[str, str], setting: Setting, names: list[str]) -> Sitting:
    """Both apps on ``setting``: checks, warm-up, the rounds, and /metrics."""
    args, work, client = rig.args, rig.work, rig.client
    config = ROOT / "gunicorn.conf.py"
    if not config.is_file():
        config = Path("/dev/null")
    options = {"workers": setting.workers, "threads": setting.threads, "config": config}
    tag = setting.workers
    with (
        gunicorn(
            env, **options, log=work / f"hello-{tag}.log", app="bench.hello:app", ready_path="/"
        ) as hello,
        gunicorn(env, **options, log=work / f"api-{tag}.log") as api,
    ):
        print(
            f"\n{setting.flags(config)}: API on {api.base_url}, hello-world on {hello.base_url} "
            f"({time.monotonic() - rig.started:.0f} s into the run)",
            flush=True,
        )
        client.base_url = api.base_url
        client.sent.clear()
        if not client.access:
            client.login()
        check_hello(hello)
        if "sync" in names and not rig.cursor:
            rig.cursor, pages, objects = full_copy(client, rig.deadline)
            rig.copy = f"{pages} pages, {objects} objects"
            print(f"  full copy by {client.username}: {rig.copy}", flush=True)
        checked = prepare(client, names, rig.cursor)
        rig.seen = rig.seen or {name: seen for name, (_path, seen) in checked.items()}
        paths = {name: path for name, (path, _seen) in checked.items()}
        hello_url = hello.base_url + "/"
        sent: Counter[tuple[str, str]] = Counter()
        load_before = Path("/proc/loadavg").read_text().split()[0]
        for url in [hello_url, *(api.base_url + path for path in paths.values())]:
            warm = rig.wrk(url, WARMUP_SECONDS)
            if url != hello_url:
                sent[("GET", urllib.parse.urlsplit(url).path)] += warm.answered
        pairs = []
        for number in range(1, args.rounds + 1):
            for name, path in paths.items():
                first = rig.wrk(hello_url, args.seconds)
                second = rig.wrk(api.base_url + path, args.seconds)
                sent[("GET", urllib.parse.urlsplit(path).path)] += second.answered
                pairs.append(Pair(number, READS[name], first, second))
                print(
                    f"  round {number} {READS[name]:<32} hello {first.rate:7.1f} req/s, "
                    f"API {second.rate:7.1f} req/s ({pairs[-1].ratio:.2f}), "
                    f"p99 {second.p99_ms:.1f} ms, non-2xx {second.non2xx}",
                    flush=True,
                )
        load_after = Path("/proc/loadavg").read_text().split()[0]
        metrics = client.http.request("GET", api.base_url + "/metrics")
        return Sitting(
            setting=setting,
            flags=setting.flags(config),
            pairs=pairs,
            load=f"{load_before}–{load_after}",
            metrics_status=metrics.status,
            metrics_text=metrics.data.decode(errors="replace") if metrics.status == 200 else "",
            sent_by_wrk=sent,
            sent_by_checks=Counter(client.sent),
        )


def seed_big(database_url: str, work: Path) -> tuple[str, str]:
    """bench.sync's bulk grid (in place of the demo district); its grid staff account."""
    from bench import sync as bulk

    app = bulk.make_app(database_url, str(work / "big-seed"))
    try:
        ids = bulk.seed(app, BIG[0], BIG[1])
    finally:
        app.extensions["fieldapi.engine"].dispose()
    print(f"  {ids['counts']}", flush=True)
    return "gw1", bulk.PASSWORD


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """SIGALRM after ``seconds`` and SIGTERM raise, so that everything started is stopped."""

    def stop(signum: int, _frame: Any) -> None:
        if signum == signal.SIGALRM:
            raise BenchError(f"time limit of {seconds:.0f} s reached")
        raise BenchError(f"stopped by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGALRM, signal.SIGTERM)}
    signal.alarm(int(seconds) + 1)
    try:
        yield
    finally:
        signal.alarm(0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace, work: Path, deadline: float, sittings: list[Sitting]) -> str:
    """Start everything, measure each setting into ``sittings``; what was seeded and seen."""
    started = time.monotonic()
    names = args.only or list(READS)
    settings = SETTINGS[:1] if args.skip_production else SETTINGS
    with seaweedfs(work) as store, postgres_database(args.pg_url) as database_url:
        env = server_env(
            FIELDAPI_DATA_DIR=str(work / "api-data"),
            FIELDAPI_DATABASE_URL=database_url,
            FIELDAPI_STORAGE_URL=f"s3://{store.bucket}",
            FIELDAPI_S3_ENDPOINT_URL=store.endpoint_url,
            FIELDAPI_SECRET_KEY=secrets.token_urlsafe(48),
            **store.env,
        )
        print(f"SeaweedFS on {store.endpoint_url}; migrating and seeding ...", flush=True)
        seeding = time.perf_counter()
        flask(env, "db", "upgrade", timeout=180)
        if args.big:
            username, password = seed_big(database_url, work)
        else:
            flask(env, "demo-seed", timeout=300)
            username, password = DEMO_USER, DEMO_PASSWORD
        print(f"  seeded in {time.perf_counter() - seeding:.0f} s", flush=True)
        rig = Rig(args, work, deadline, Client(username, password))
        rig.started = started
        for setting in settings:
            sittings.append(sitting(rig, env, setting, names))
            print(setting_table(sittings[-1], args), flush=True)
    seed = (
        "bench.sync's grid (2,000 buildings, 20,000 inspections)"
        if args.big
        else "the demo district"
    )
    seen = "; ".join(f"{name}: {text}" for name, text in rig.seen.items())
    copy = f"; the delta follows a full copy of {rig.copy}" if rig.copy else ""
    return f"Seed: {seed}, reads as {username} ({seen}{copy})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_reads", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of hello and API (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--skip-production", action="store_true", help="only gunicorn -w 2")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(READS),
        metavar="READ",
        help=f"measure only this read (repeatable): {', '.join(READS)}",
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="bench.sync's grid of 2,000 buildings instead of the demo district",
    )
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds in all (1800)")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 300 or not 1 <= args.rounds <= 10:
        parser.error("--seconds must be 1–300 and --rounds 1–10")
    if not 1 <= args.threads <= args.connections <= 1000:
        parser.error("wrk needs 1 <= --threads <= --connections <= 1000")
    args.only = list(dict.fromkeys(args.only)) if args.only else None
    reads = len(args.only or READS)
    per_setting = reads * args.rounds * 2 * (args.seconds + 1.5) + (reads + 1) * 4 + 20
    settings = 1 if args.skip_production else 2
    needed = SETUP_SECONDS + BIG_SEED_SECONDS * args.big + per_setting * settings
    if needed > args.time_limit:
        parser.error(f"this run takes about {needed:.0f} s: raise --time-limit")
    if wrk.find() is None:
        parser.error("wrk is missing: apt-get install wrk")

    began = time.monotonic()
    info = machine(args.pg_url)
    work = Path(tempfile.mkdtemp(prefix="fieldapi-hot-reads-"))
    sittings: list[Sitting] = []
    seed, failed = "", 0
    try:
        with bounded(args.time_limit):
            seed = run(args, work, time.monotonic() + args.time_limit, sittings)
    except (BenchError, wrk.WrkError, RuntimeError) as exc:  # RuntimeError: SeaweedFS
        print(f"benchmark failed: {exc}", file=sys.stderr)
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        failed = 1
    except KeyboardInterrupt:
        print("interrupted; everything started is stopped", file=sys.stderr)
        failed = 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if sittings:
        report(args, sittings, info, seed or "Seed: see above (the run stopped early)")
    print(f"\nThe run took {time.monotonic() - began:.0f} s.")
    return failed


if __name__ == "__main__":
    sys.exit(main())
