"""Under a real gunicorn started as the README starts it: metrics add up over the workers,
gunicorn's own refusals are problem+json, and the app's log lines are JSON on stderr."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fieldapi.core.problems import TYPE_BASE
from tests.ops.gunicorn_server import gunicorn

BUILDING = "/api/v1/buildings/<uuid:building_id>"


def requests_counted(text: str, route: str, status: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "fieldapi_http_requests"
        for sample in family.samples
        if sample.name == "fieldapi_http_requests_total"
        and sample.labels["route"] == route
        and sample.labels["status"] == status
    )


def send_many(server, count: int) -> None:
    """``count`` signed-out reads of different buildings (401), a new connection each, four
    at a time, so the workers share them."""

    def one(_):
        return server.get(f"/api/v1/buildings/{uuid.uuid4()}").status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(one, range(count))) == {401}


def wait_for_new_workers(server, old: set[int], count: int, timeout: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = server.workers()
        if not now & old and len(now) >= count:
            return now
        time.sleep(0.2)
    raise AssertionError(f"workers {server.workers()} did not replace {old}")


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory):
    with gunicorn(settings, tmp_path_factory.mktemp("gunicorn")) as running:
        yield running


def test_counts_of_all_workers_add_up_even_after_they_exit(settings, tmp_path):
    with gunicorn(settings, tmp_path, workers=2) as server:
        metrics_dir = server.metrics_dir()
        assert metrics_dir.is_dir()
        first = server.workers()
        assert len(first) == 2
        send_many(server, 30)

        # Replace every worker: the scrape is answered by a process that served none of
        # the 30, so it can only show them by adding up the files of the others.
        os.kill(server.process.pid, signal.SIGHUP)
        second = wait_for_new_workers(server, first, 2)
        send_many(server, 10)
        scraped = server.get("/metrics")
        assert scraped.status_code == 200
        assert requests_counted(scraped.text, BUILDING, "401") == 40
        # A reload keeps the directory; it holds the counts of workers old and new.
        assert server.metrics_dir() == metrics_dir
        counted_by = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("counter_*.db")}
        assert counted_by & first
        assert counted_by & second
    # A directory the configuration made for this run goes with it.
    assert not metrics_dir.exists()


def test_an_operators_metrics_directory_is_kept_and_emptied_at_start(settings, tmp_path):
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_1.db").write_bytes(b"stale counts of an earlier run")
    (chosen / "notes.txt").write_text("not ours")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(chosen)}
    with gunicorn(settings, tmp_path, workers=1, env=env) as server:
        assert server.metrics_dir() == chosen
        assert not (chosen / "counter_1.db").exists()
        send_many(server, 3)
        assert requests_counted(server.get("/metrics").text, BUILDING, "401") == 3
    assert (chosen / "notes.txt").exists()
    assert list(chosen.glob("counter_*.db")), "the operator's directory is left as it is"


def answer_of(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri-too-long"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
            "request-headers-too-large",
        ),
        (b"GARBAGE\r\n\r\n", 400, "malformed-request"),
    ],
    ids=["request-line-over-4KB", "header-too-large", "unreadable"],
)
def test_gunicorns_own_refusals_are_problem_json(server, request_bytes, status, slug):
    got_status, headers, body = answer_of(server.raw(request_bytes))
    assert got_status == status
    assert headers["content-type"] == "application/problem+json"
    assert body["type"] == TYPE_BASE + slug
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "<html" not in json.dumps(body).lower()
    request_id = headers["x-request-id"]
    assert len(request_id) == 32
    # The refusal has its log line and its count, like any answer.
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == request_id and line["status"] == status for line in lines)
    assert requests_counted(server.get("/metrics").text, "(rejected)", str(status)) >= 1


def test_the_apps_log_lines_are_json_with_the_request_id(server):
    request_id = f"probe-{uuid.uuid4().hex}"
    answer = server.get(f"/api/v1/buildings/{uuid.uuid4()}", headers={"X-Request-ID": request_id})
    assert answer.status_code == 401
    assert answer.headers["X-Request-ID"] == request_id
    deadline = time.monotonic() + 10
    while request_id not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = [json.loads(line) for line in server.log().splitlines() if f'"{request_id}"' in line]
    assert line["route"] == BUILDING
    assert line["status"] == 401
    assert line["method"] == "GET"
