"""Photo ingest: the API's photo pipeline against the bare work it wraps, side by side.

Run by hand from the repository root (never part of the test suite):

    .venv/bin/python -m bench.photo_ingest [--clients N] [--photos M] [--rounds R]

Everything runs on loopback and is removed at the end: a SeaweedFS S3 store, a fresh
PostgreSQL database on 127.0.0.1:5432 (user postgres, trust), and the API under gunicorn
(2 workers, 4 threads each).

1. Throughput. M phone photos (4000x3000 JPEG, quality 90, about 3 MB, EXIF as a phone
   writes it, a quarter stored sideways) are made before anything is timed. Then, with N
   client threads each time, rounds alternate between

   - api: per photo, POST /api/v1/photos for a slot, the presigned form POST to SeaweedFS
     as instructed, POST /api/v1/photos/{id}/complete (verification and derivatives);
   - bare: per photo, put_object and get_object with boto3 against the same store, SHA-256
     of what came back, and Pillow's ``thumbnail`` to 2048 px and from that to 320 px, each
     JPEG-encoded as the API encodes its derivatives (quality 85, optimized, progressive).
     ``thumbnail`` decodes a 4000x3000 JPEG in full (it only asks libjpeg for a reduced scale
     when that stays at twice the target); ``--bare-draft`` makes it decode at the reduced
     scale the API uses, for the strictest comparison.

   Rounds go bare-api, api-bare, bare-api... so that drift on a shared machine hits both
   alike. Each round sends the photos with a round-specific JPEG comment, so every photo
   is new to the API. Reported: photos/s per round, the medians, and api/bare.

2. Memory. A single-worker gunicorn on the embedded default (SQLite, local blob folder)
   receives a 50 MiB body streamed from a generator through PUT /api/v1/photos/{id}/content;
   the worker's VmRSS and VmHWM (from /proc) are read before and after.

The run is bounded: at most 16 clients, 200 photos and 5 rounds, 120 s per request and
``--time-limit`` seconds in all.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import math
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from PIL import Image, features

from bench.services import (
    PG_ADMIN_URL,
    BenchError,
    Server,
    children,
    flask,
    gunicorn,
    postgres_database,
    seaweedfs,
    server_env,
)
from fieldapi.photos.imaging.single_decode import DISPLAY_MIN
from tests.photos import images
from tests.support.seaweedfs import SeaweedFS

USERNAME = "bench"
PHOTO_SIZE = (4000, 3000)
PHOTO_QUALITY = 90
PHOTO_NOISE = 20  # grain that makes a 4000x3000 quality-90 JPEG about 3 MB, as phones do
DISPLAY, THUMBNAIL = 2048, 320
UPLOAD_BYTES = 50 * 1024 * 1024  # the largest upload a slot accepts by default
STREAM_CHUNK = 256 * 1024
REQUEST_TIMEOUT = 120.0
MEMORY_TARGET_MB = 20
RATIO_TARGET = 0.7
MAX_CLIENTS, MAX_PHOTOS, MAX_ROUNDS = 16, 200, 5
MB = 1024 * 1024

T = TypeVar("T")
R = TypeVar("R")


# Photos


@dataclass(frozen=True)
class Photo:
    data: bytes
    sha256: str


def make_photos(count: int) -> list[bytes]:
    """``count`` distinct 12-megapixel phone photos with GPS, capture time and device."""

    def one(index: int) -> bytes:
        rng = random.Random(index)
        exif = images.exif_bytes(
            orientation=6 if index % 4 == 3 else 1,
            gps=(22.54 + rng.uniform(-0.01, 0.01), 114.05 + rng.uniform(-0.01, 0.01)),
            taken=datetime(2026, 3, 2, 9, 30) + timedelta(minutes=7 * index),
            make="Xiaomi",
            model="2201123C",
        )
        picture = images.picture(*PHOTO_SIZE, seed=1000 + index, noise=PHOTO_NOISE)
        return images.encode(picture, "JPEG", quality=PHOTO_QUALITY, exif=exif)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(one, range(count)))


def variant(data: bytes, tag: str) -> Photo:
    """The photo with a JPEG comment ``tag`` after its application segments: new bytes,
    the same picture."""
    position = 2
    while 0xE0 <= data[position + 1] <= 0xEF:  # APPn: JFIF, EXIF, ...
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    text = tag.encode()
    comment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    out = data[:position] + comment + data[position:]
    return Photo(out, hashlib.sha256(out).hexdigest())


def body_stream(size: int) -> Iterator[bytes]:
    """``size`` pseudo-random bytes, a chunk at a time, the same on every call."""
    rng = random.Random(50)
    left = size
    while left:
        chunk = rng.randbytes(min(STREAM_CHUNK, left))
        left -= len(chunk)
        yield chunk


# Processes


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time spent so far by ``pids``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid``, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def reset_peak(pid: int) -> bool:
    """Make VmHWM start again from the current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# The API as a phone uses it


class Api:
    def __init__(self, base_url: str, http: urllib3.PoolManager) -> None:
        self.base_url = base_url
        self.http = http
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.http.request(
            method,
            urllib.parse.urljoin(self.base_url, path),
            body=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self.auth},
        )
        if response.status != expect:
            raise BenchError(f"{method} {path}: {response.status} {response.data[:500]!r}")
        return json.loads(response.data) if response.data else None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def login(self, password: str) -> None:
        self.token = ""
        answer = self.call(
            "POST", "/api/v1/auth/login", {"username": USERNAME, "password": password}
        )
        self.token = answer["access_token"]

    def slot(self, photo_id: uuid.UUID, size: int, sha256: str) -> dict[str, Any]:
        request = {"id": str(photo_id), "sha256": sha256, "size": size}
        return self.call("POST", "/api/v1/photos", {**request, "content_type": "image/jpeg"}, 201)


def upload(api: Api, instruction: dict[str, Any], data: bytes) -> None:
    """Send the bytes as the slot says: a form POST (file last) or a PUT."""
    url = urllib.parse.urljoin(api.base_url, instruction["url"])
    headers = dict(instruction["headers"])
    if url.startswith(api.base_url):  # the API's own route takes the bearer token
        headers.update(api.auth)
    if instruction["method"] == "POST":
        fields: list[tuple[str, Any]] = list(instruction["fields"].items())
        fields.append(("file", ("photo.jpg", data, "image/jpeg")))
        body, form_type = urllib3.encode_multipart_formdata(fields)
        headers["Content-Type"] = form_type
    else:
        body = data
    response = api.http.request(instruction["method"], url, body=body, headers=headers)
    if response.status >= 300:
        raise BenchError(f"upload: {response.status} {response.data[:500]!r}")


def api_photo(api: Api, photo: Photo) -> dict[str, float]:
    """One photo through the API: slot, upload, complete; the seconds each took."""
    started = time.perf_counter()
    photo_id = uuid.uuid4()
    slot = api.slot(photo_id, len(photo.data), photo.sha256)
    slotted = time.perf_counter()
    upload(api, slot["upload"], photo.data)
    uploaded = time.perf_counter()
    done = api.call("POST", f"/api/v1/photos/{photo_id}/complete")
    completed = time.perf_counter()
    if done["status"] != "verified" or not done["display_url"]:
        raise BenchError(f"photo not verified: {done}")
    return {
        "slot": slotted - started,
        "upload": uploaded - slotted,
        "complete": completed - uploaded,
    }


def bare_photo(s3: Any, bucket: str, key: str, photo: Photo, *, draft: bool) -> dict[str, float]:
    """The work without the API: store, fetch, hash, two JPEG thumbnails. With ``draft``, a
    JPEG is decoded at the reduced scale the API uses."""
    started = time.perf_counter()
    s3.put_object(Bucket=bucket, Key=key, Body=photo.data, ContentType="image/jpeg")
    stored = time.perf_counter()
    with s3.get_object(Bucket=bucket, Key=key)["Body"] as body:
        data = body.read()
    if hashlib.sha256(data).hexdigest() != photo.sha256:
        raise BenchError(f"{key} came back different")
    fetched = time.perf_counter()
    with Image.open(io.BytesIO(data)) as img:
        if draft:
            scale = DISPLAY_MIN / max(img.size)
            img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        img.thumbnail((DISPLAY, DISPLAY))
        thumbnail = img.copy()
        thumbnail.thumbnail((THUMBNAIL, THUMBNAIL))
        for picture in (img, thumbnail):
            picture.save(io.BytesIO(), "JPEG", quality=85, optimize=True, progressive=True)
    return {
        "put": stored - started,
        "get": fetched - stored,
        "pillow": time.perf_counter() - fetched,
    }


# Running rounds


@dataclass
class Round:
    number: int
    path: str
    photos: int
    seconds: float
    steps: dict[str, float]
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per photo, by process

    @property
    def rate(self) -> float:
        return self.photos / self.seconds


def concurrently(
    clients: int, items: list[T], work: Callable[[int, T], R], deadline: float
) -> tuple[float, list[R]]:
    """Run ``work(client, item)`` over ``items`` from ``clients`` threads; the wall time."""
    queue = deque(enumerate(items))
    lock = threading.Lock()
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []

    def client(number: int) -> None:
        while True:
            with lock:
                if not queue or errors:
                    return
                index, item = queue.popleft()
            if time.monotonic() > deadline:
                errors.append(BenchError("time limit reached"))
                return
            try:
                results[index] = work(number, item)
            except BaseException as exc:  # reported by the caller
                errors.append(exc)
                return

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds, results


def medians(results: list[dict[str, float]]) -> dict[str, float]:
    return {step: statistics.median(r[step] for r in results) for step in results[0]}


@dataclass
class Rig:
    clients: int
    deadline: float
    api: Api
    password: str
    server: Server
    store: SeaweedFS
    s3: list[Any]
    weed: list[int]
    bare_draft: bool

    def run_api(self, number: int, photos: list[Photo]) -> Round:
        self.api.login(self.password)  # a fresh token for every round
        return self._timed(number, "api", photos, lambda _client, p: api_photo(self.api, p))

    def run_bare(self, number: int, photos: list[Photo]) -> Round:
        keys = [f"bench-bare/{number}/{index}.jpg" for index in range(len(photos))]
        bucket = self.store.bucket

        def work(client: int, item: tuple[str, Photo]) -> dict[str, float]:
            return bare_photo(self.s3[client], bucket, *item, draft=self.bare_draft)

        result = self._timed(number, "bare", list(zip(keys, photos, strict=True)), work)
        for key in keys:
            self.s3[0].delete_object(Bucket=bucket, Key=key)
        return result

    def _timed(self, number: int, path: str, items: list[Any], work: Callable) -> Round:
        app = self.server.workers() if path == "api" else [os.getpid()]
        before = {"app": cpu_seconds(app), "store": cpu_seconds(self.weed)}
        seconds, results = concurrently(self.clients, items, work, self.deadline)
        after = {"app": cpu_seconds(app), "store": cpu_seconds(self.weed)}
        cpu = {name: (after[name] - before[name]) / len(items) for name in before}
        return Round(number, path, len(items), seconds, medians(results), cpu)


# The two parts


def throughput(args: argparse.Namespace, work: Path, deadline: float) -> list[Round]:
    print(f"making {args.photos} photos of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} ...", flush=True)
    started = time.perf_counter()
    originals = make_photos(args.photos)
    sizes = [len(data) for data in originals]
    print(
        f"  {len(originals)} photos, {statistics.mean(sizes) / MB:.2f} MiB on average "
        f"({min(sizes) / MB:.2f}-{max(sizes) / MB:.2f}), made in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    with (
        seaweedfs(work) as store,
        postgres_database(args.pg_url) as database_url,
    ):
        password = secrets.token_urlsafe(18)
        env = server_env(
            FIELDAPI_DATA_DIR=str(work / "api-data"),
            FIELDAPI_DATABASE_URL=database_url,
            FIELDAPI_STORAGE_URL=f"s3://{store.bucket}",
            FIELDAPI_S3_ENDPOINT_URL=store.endpoint_url,
            FIELDAPI_SECRET_KEY=secrets.token_urlsafe(48),
            FIELDAPI_LOGIN_FAILURES_PER_USERNAME="1000000",
            FIELDAPI_ADMIN_PASSWORD=password,
            **store.env,
        )
        flask(env, "db", "upgrade")
        flask(env, "create-admin", USERNAME)
        with gunicorn(env, workers=2, threads=4, log=work / "gunicorn-api.log") as server:
            http = urllib3.PoolManager(
                maxsize=args.clients + 2, retries=False, timeout=REQUEST_TIMEOUT
            )
            rig = Rig(
                clients=args.clients,
                deadline=deadline,
                api=Api(server.base_url, http),
                password=password,
                server=server,
                store=store,
                s3=[store.client(read_timeout=REQUEST_TIMEOUT) for _ in range(args.clients)],
                weed=[pid for pid in children(os.getpid()) if _name(pid) == "weed"],
                bare_draft=args.bare_draft,
            )
            print(
                f"API on {server.base_url} (gunicorn 2 workers x 4 threads), "
                f"SeaweedFS on {store.endpoint_url}",
                flush=True,
            )
            warm = [variant(data, "warm-up") for data in originals[: args.clients]]
            rig.run_bare(0, warm)
            rig.run_api(0, warm)
            rounds: list[Round] = []
            for number in range(1, args.rounds + 1):
                photos = [variant(data, f"round {number}") for data in originals]
                order = (rig.run_bare, rig.run_api) if number % 2 else (rig.run_api, rig.run_bare)
                for run in order:
                    result = run(number, photos)
                    rounds.append(result)
                    print(
                        f"  round {number} {result.path:<4} {result.rate:6.2f} photos/s", flush=True
                    )
            return rounds


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass
class Memory:
    upload_bytes: int
    seconds: float
    before: dict[str, int]
    after: dict[str, int]
    sampled_peak: int
    peak_reset: bool
    client_growth: int

    @property
    def growth(self) -> int:
        return self.after["VmRSS"] - self.before["VmRSS"]

    @property
    def peak_growth(self) -> int:
        base = self.before["VmRSS"] if self.peak_reset else self.before["VmHWM"]
        return max(self.after["VmHWM"], self.sampled_peak) - base


def upload_memory(args: argparse.Namespace, work: Path, deadline: float) -> Memory:
    data_dir = work / "embedded"
    password = secrets.token_urlsafe(18)
    env = server_env(
        FIELDAPI_DATA_DIR=str(data_dir),
        FIELDAPI_STORAGE_URL=(data_dir / "blobs").as_uri(),
        FIELDAPI_SECRET_KEY=secrets.token_urlsafe(48),
        FIELDAPI_LOGIN_FAILURES_PER_USERNAME="1000000",
        FIELDAPI_ADMIN_PASSWORD=password,
    )
    flask(env, "db", "upgrade")
    flask(env, "create-admin", USERNAME)
    with gunicorn(env, workers=1, threads=4, log=work / "gunicorn-embedded.log") as server:
        (worker,) = server.workers()
        api = Api(server.base_url, urllib3.PoolManager(retries=False, timeout=REQUEST_TIMEOUT))
        api.login(password)
        # Warm the route with a real photo first, so that the figures show the upload alone.
        small = variant(images.jpeg(1600, 1200), "memory warm-up")
        slot = api.slot(uuid.uuid4(), len(small.data), small.sha256)
        upload(api, slot["upload"], small.data)

        size = args.upload_mb * MB
        digest = hashlib.sha256()
        for chunk in body_stream(size):
            digest.update(chunk)
        slot = api.slot(uuid.uuid4(), size, digest.hexdigest())
        instruction = slot["upload"]
        if instruction["method"] != "PUT":
            raise BenchError(f"expected the API's own PUT route, got {instruction}")

        client_before = memory(os.getpid())["VmRSS"]
        before = memory(worker)
        peak_reset = reset_peak(worker)
        sampler = _Sampler(worker)
        started = time.perf_counter()
        with sampler:
            status = _put_stream(api, instruction, size)
        seconds = time.perf_counter() - started
        after = memory(worker)
        if status != 204:
            raise BenchError(f"streamed upload answered {status}")
        if time.monotonic() > deadline:
            raise BenchError("time limit reached")
        stored = sum(f.stat().st_size for f in (data_dir / "blobs").rglob("*") if f.is_file())
        if stored < size:
            raise BenchError("the streamed upload is not in the blob folder")
        return Memory(
            upload_bytes=size,
            seconds=seconds,
            before=before,
            after=after,
            sampled_peak=sampler.peak,
            peak_reset=peak_reset,
            client_growth=memory(os.getpid())["VmRSS"] - client_before,
        )


def _put_stream(api: Api, instruction: dict[str, Any], size: int) -> int:
    """PUT ``size`` bytes from ``body_stream`` with a Content-Length; never holds the body."""
    url = urllib.parse.urlsplit(urllib.parse.urljoin(api.base_url, instruction["url"]))
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.putrequest("PUT", url.path + (f"?{url.query}" if url.query else ""))
        for name, value in {**instruction["headers"], **api.auth}.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        for chunk in body_stream(size):
            connection.send(chunk)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class _Sampler:
    """The largest VmRSS of a process, read every 10 ms while in the ``with`` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, memory(self.pid)["VmRSS"])
            self._stop.wait(0.01)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Report


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    if features.check_feature("libjpeg_turbo"):
        jpeg = f"libjpeg-turbo {features.version('libjpeg_turbo')}"
    else:
        jpeg = f"libjpeg {features.version('jpg')}"
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), load average {load}; "
        f"Python {platform.python_version()}, Pillow {Image.__version__} with {jpeg}"
    )


def report(args: argparse.Namespace, rounds: list[Round], mem: Memory | None, info: str) -> None:
    command = f"python -m bench.photo_ingest --clients {args.clients} --photos {args.photos}"
    command += f" --rounds {args.rounds}" + (" --bare-draft" if args.bare_draft else "")
    print(f"\nmachine: {info}\ncommand: {command}")
    readme = []
    if rounds:
        print(
            f"\n{'round':>5}  {'path':<4}  {'photos':>6}  {'seconds':>7}  {'photos/s':>8}  "
            f"{'CPU ms/photo app+store':>22}  median step (ms)"
        )
        for r in rounds:
            cpu = f"{r.cpu['app'] * 1000:.0f} + {r.cpu['store'] * 1000:.0f}"
            steps = "  ".join(f"{step} {value * 1000:.0f}" for step, value in r.steps.items())
            print(
                f"{r.number:>5}  {r.path:<4}  {r.photos:>6}  {r.seconds:7.1f}  {r.rate:8.2f}  "
                f"{cpu:>22}  {steps}"
            )
        bare = statistics.median(r.rate for r in rounds if r.path == "bare")
        api = statistics.median(r.rate for r in rounds if r.path == "api")
        ratio = api / bare
        verdict = "met" if ratio >= RATIO_TARGET else "NOT met"
        print(
            f"\nmedian: api {api:.2f} photos/s, bare {bare:.2f} photos/s, "
            f"api/bare {ratio:.2f} (target >= {RATIO_TARGET}: {verdict})"
        )
        runs = "; ".join(f"{r.path} {r.rate:.2f}" for r in rounds)
        readme += [
            f"- Photo ingest, {args.clients} concurrent clients, {args.photos} photos per round "
            f"({PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, quality {PHOTO_QUALITY}, about 3 MB), "
            f"photos/s in run order: {runs}.",
            f"  Medians: API {api:.2f} photos/s, bare {bare:.2f} photos/s: "
            f"**API/bare = {ratio:.2f}** (target ≥ {RATIO_TARGET}).",
        ]
    if mem is not None:
        peak = max(mem.after["VmHWM"], mem.sampled_peak)
        verdict = "met" if mem.peak_growth < MEMORY_TARGET_MB * 1_000_000 else "NOT met"
        print(
            f"\nstreamed {mem.upload_bytes // MB} MiB through PUT /api/v1/photos/{{id}}/content "
            f"in {mem.seconds:.1f} s (one gunicorn worker, embedded default):\n"
            f"  worker VmRSS {_mib(mem.before['VmRSS'])} before, {_mib(mem.after['VmRSS'])} "
            f"after: growth {_mib(mem.growth)}\n"
            f"  peak {_mib(peak)} (VmHWM {_mib(mem.after['VmHWM'])}, sampled "
            f"{_mib(mem.sampled_peak)}): {_mib(mem.peak_growth)} above the start "
            f"(target < {MEMORY_TARGET_MB} MB: {verdict})\n"
            f"  client VmRSS growth {_mib(mem.client_growth)}"
        )
        readme.append(
            f"- Streamed {mem.upload_bytes // MB} MiB upload through "
            f"`PUT /api/v1/photos/{{id}}/content` (one gunicorn worker, embedded default): "
            f"worker RSS {_mib(mem.before['VmRSS'])} before, {_mib(mem.after['VmRSS'])} after "
            f"(growth {_mib(mem.growth)}); peak {_mib(peak)}, {_mib(mem.peak_growth)} above "
            f"the start (target < {MEMORY_TARGET_MB} MB)."
        )
    print(f"\nFor README.md, Performance:\n\nMeasured on {info}, with `.venv/bin/{command}`:\n")
    print("\n".join(readme))


def _mib(value: int) -> str:
    return f"{value / MB:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.photo_ingest", description=__doc__)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument("--photos", type=int, default=40, help="photos per round (40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare and api (3)")
    parser.add_argument("--upload-mb", type=int, default=UPLOAD_BYTES // MB, help="MiB (50)")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds in all (900)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument(
        "--bare-draft",
        action="store_true",
        help="bare decodes at the API's reduced JPEG scale (Image.draft) instead of in full",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    for name, top in (("clients", MAX_CLIENTS), ("photos", MAX_PHOTOS), ("rounds", MAX_ROUNDS)):
        if not 1 <= getattr(args, name) <= top:
            parser.error(f"--{name} must be between 1 and {top}")
    if not 1 <= args.upload_mb <= UPLOAD_BYTES // MB:
        parser.error(f"--upload-mb must be between 1 and {UPLOAD_BYTES // MB}")

    info = machine()
    deadline = time.monotonic() + args.time_limit
    work = Path(tempfile.mkdtemp(prefix="fieldapi-bench-"))
    rounds: list[Round] = []
    mem = None
    try:
        if not args.skip_throughput:
            rounds = throughput(args, work, deadline)
        if not args.skip_memory:
            mem = upload_memory(args, work, deadline)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        failed = True
    else:
        failed = False
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if rounds or mem:
        report(args, rounds, mem, info)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
