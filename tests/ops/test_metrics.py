"""GET /metrics: what it counts, and who may read it.

In the test process prometheus-client keeps its counts in memory, shared by every app the
tests make, so each test compares a scrape after with a scrape before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.ops.conftest import samples
from tests.photos.conftest import sha256, small_jpeg

REQUESTS = "fieldapi_http_requests_total"
BUILDING = "/api/v1/buildings/<uuid:building_id>"
TOKEN = "metrics-token-" + "k" * 24


def test_requests_are_counted_by_route_template_method_and_status(client, world, as_user, scraper):
    headers = as_user("gw1")  # signed in before the first scrape: its POST is not compared
    before = scraper.scrape()
    b1, b4 = world.buildings["B1"], world.buildings["B4"]
    assert client.get(f"/api/v1/buildings/{b1}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/buildings/{b4}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/buildings/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/buildings/{b1}").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    assert client.open("/health", method="BREW").status_code == 405
    after = scraper.scrape()

    change = lambda name, **labels: scraper.change(before, name, **labels)  # noqa: E731
    assert change(REQUESTS, route=BUILDING, method="GET", status="200") == 1
    assert change(REQUESTS, route=BUILDING, method="GET", status="404") == 2
    assert change(REQUESTS, route=BUILDING, method="GET", status="401") == 1
    assert change(REQUESTS, route="(unmatched)", method="GET", status="404") == 1
    assert change(REQUESTS, route="(unmatched)", method="other", status="405") == 1
    # The first scrape was counted once it had answered: the second shows it.
    assert change(REQUESTS, route="/metrics", method="GET", status="200") == 1
    # Only templates are labels: no raw path, no id, no unknown method.
    routes = {dict(labels).get("route") for _name, labels in after} - {None}
    assert BUILDING in routes
    assert not any(str(b1) in route or "/no/such" in route for route in routes)
    assert "BREW" not in scraper.text

    latency = "fieldapi_http_request_duration_seconds"
    assert change(latency + "_count", route=BUILDING, method="GET") == 4
    assert change(latency + "_bucket", route=BUILDING, method="GET", le="+Inf") == 4
    assert change(latency + "_sum", route=BUILDING, method="GET") > 0
    le = {dict(labels)["le"] for name, labels in after if name == latency + "_bucket"}
    assert {"0.001", "0.0025", "0.005", "10.0", "+Inf"} <= le


def test_verifications_are_counted_once_by_outcome_and_reason(photos, as_user, scraper):
    headers = as_user("gw1")
    good = photos.upload(headers, small_jpeg(901))
    data = small_jpeg(902)
    changed = photos.upload(headers, data, declared_sha256=sha256(data[:-1]))
    before = scraper.scrape()
    for _ in range(2):  # completing again repeats the verdict; it is not a new one
        assert photos.complete(headers, good).status_code == 200
        rejected = photos.complete(headers, changed)
        assert rejected.status_code == 422
        assert rejected.get_json()["reason"] == "hash-mismatch"
    scraper.scrape()
    name = "fieldapi_photo_verifications_total"
    assert scraper.change(before, name, outcome="verified", reason="") == 1
    assert scraper.change(before, name, outcome="rejected", reason="hash-mismatch") == 1


def test_sync_pages_are_counted_with_and_without_a_cursor(client, world, as_user, scraper):
    headers = as_user("gw1")
    before = scraper.scrape()
    first = client.get("/api/v1/sync?limit=1", headers=headers)
    assert first.status_code == 200
    assert first.get_json()["has_more"]
    cursor = first.get_json()["next_cursor"]
    assert client.get(f"/api/v1/sync?cursor={cursor}", headers=headers).status_code == 200
    assert client.get("/api/v1/sync?cursor=forged", headers=headers).status_code == 400
    scraper.scrape()
    assert scraper.change(before, "fieldapi_sync_pages_total", cursor="none") == 1
    assert scraper.change(before, "fieldapi_sync_pages_total", cursor="given") == 1


def assert_refused(response, status: int, slug: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith(f"/problems/{slug}")
    assert "fieldapi_http_requests" not in response.get_data(as_text=True)


def test_with_a_token_only_that_token_opens_the_metrics(make_app, world, as_user):
    client = make_app(metrics_token=TOKEN).test_client()
    far = {"REMOTE_ADDR": "203.0.113.9"}
    opened = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=far)
    assert opened.status_code == 200
    assert "fieldapi_http_requests_total" in opened.get_data(as_text=True)

    missing = client.get("/metrics")  # from loopback too: the token is what counts
    assert_refused(missing, 401, "authentication-required")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_refused(
        client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
        401,
        "authentication-required",
    )
    for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), as_user("admin")["Authorization"][7:]):
        response = client.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
        assert_refused(response, 403, "forbidden")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_callers_on_loopback_read_the_metrics(client, address):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "203.0.113.9", "::2", ""])
def test_without_a_token_other_callers_are_refused(client, as_user, address):
    far = {"REMOTE_ADDR": address}
    assert_refused(client.get("/metrics", environ_base=far), 403, "forbidden")
    # A user's sign-in does not open them either.
    response = client.get("/metrics", headers=as_user("admin"), environ_base=far)
    assert_refused(response, 403, "forbidden")


def test_a_forwarded_header_never_makes_a_caller_local(make_app):
    direct = make_app().test_client()
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        # Sent through a proxy on this host: the caller is whoever the proxy serves.
        response = direct.get("/metrics", headers={header: "127.0.0.1"})
        assert_refused(response, 403, "forbidden")
    proxied = make_app(trusted_proxies=1).test_client()
    spoofed = proxied.get(
        "/metrics",
        headers={"X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )
    assert_refused(spoofed, 403, "forbidden")
    assert proxied.get("/metrics").status_code == 200


SCRIPT = """
import tempfile
from fieldapi import create_app
from fieldapi.config import Settings
from fieldapi.ops import metrics
app = create_app(Settings.from_env({"FIELDAPI_DATA_DIR": tempfile.mkdtemp()}))
client = app.test_client()
for _ in range(3):
    assert client.get("/health").status_code == 200
assert metrics.MULTIPROCESS
print(client.get("/metrics").get_data(as_text=True))
"""


def test_flask_run_with_a_multiprocess_directory_counts_into_it(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("FIELDAPI_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = (REQUESTS, frozenset({"route": "/health", "method": "GET", "status": "200"}.items()))
    assert samples(out)[key] == 3
    assert list(tmp_path.glob("counter_*.db")), "the counts are in the directory's files"


def test_the_metrics_token_is_read_from_the_environment(tmp_path):
    from fieldapi.config import Settings

    read = Settings.from_env({"FIELDAPI_DATA_DIR": str(tmp_path), "FIELDAPI_METRICS_TOKEN": TOKEN})
    assert read.metrics_token == TOKEN
    assert Settings.from_env({"FIELDAPI_DATA_DIR": str(tmp_path)}).metrics_token is None
    for weak in ("short", "with a space in it here", "ünïcödé-token-long-enough"):
        with pytest.raises(ValueError, match="FIELDAPI_METRICS_TOKEN"):
            Settings.from_env({"FIELDAPI_DATA_DIR": str(tmp_path), "FIELDAPI_METRICS_TOKEN": weak})
