"""A real gunicorn for the operations tests, started as the README starts it.

From the repository root (so gunicorn reads ./gunicorn.conf.py by default), on a free
loopback port, on the test session's database and store. Its stderr (gunicorn's own lines
and the app's JSON lines) goes to a file the tests read.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from fieldapi.config import Settings
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
METRICS_DIR_LINE = re.compile(r"Prometheus multiprocess directory: (\S+)")


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def metrics_dir(self) -> Path:
        match = METRICS_DIR_LINE.search(self.log())
        assert match, self.log()[-2000:]
        return Path(match[1])

    def workers(self) -> set[int]:
        """The pids of the master's children (its workers), read from /proc."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid and fields[0] != "Z":
                    children.add(int(stat.parent.name))
        return children

    def get(self, path: str, **kwargs) -> requests.Response:
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        return requests.get(self.url + path, headers=headers, timeout=30, **kwargs)

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are; everything the server answers until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("PROMETHEUS_MULTIPROC_DIR", "FIELDAPI_METRICS_TOKEN", "FIELDAPI_OWN_METRICS_DIR")
    }
    env.update(
        {
            "FIELDAPI_DATA_DIR": str(data_dir),
            "FIELDAPI_DATABASE_URL": settings.database_url,
            "FIELDAPI_STORAGE_URL": settings.storage_url,
            "FIELDAPI_SECRET_KEY": TEST_SECRET,
            "FIELDAPI_ARGON2_TIME_COST": "1",
            "FIELDAPI_ARGON2_MEMORY_KIB": "8192",
        }
    )
    if settings.s3_endpoint_url:
        env["FIELDAPI_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    return env


@contextlib.contextmanager
def gunicorn(
    settings: Settings, workdir: Path, *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[Gunicorn]:
    port = free_port()
    stderr = workdir / "gunicorn.err"
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers", str(workers),
        "--threads", "2",
        "--bind", f"127.0.0.1:{port}",
        # The control socket's default path is shared by every gunicorn of this user.
        "--no-control-socket",
        "wsgi:app",
    ]  # fmt: skip
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**environment(settings, workdir / "data"), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    server = Gunicorn(process, port, stderr)
    try:
        wait_until_serving(server, workers)
        yield server
    finally:
        stop(server)


def wait_until_serving(server: Gunicorn, workers: int) -> None:
    """Every worker booted (the app imported) and the port answering."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log()[-3000:]}")
        booted = server.log().count("Booting worker")
        if booted >= workers and len(server.workers()) >= workers:
            with contextlib.suppress(requests.RequestException):
                if server.get("/health").status_code == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start: {server.log()[-3000:]}")


def stop(server: Gunicorn) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
