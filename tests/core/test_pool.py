"""Pooled connections: one the database dropped is replaced, not handed to a request."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from fieldapi.core import db as database
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def pg_only(backend):
    if backend != "server":
        pytest.skip("SQLite has no server to drop connections")


def _drop_connections(database_url: str) -> int:
    name = make_url(database_url).database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/areas"])
def test_a_connection_dropped_while_idle_is_replaced(
    pg_only, app, client, world, as_user, settings, monkeypatch, path
):
    headers = as_user("gw1")
    assert client.get(path, headers=headers).status_code == 200
    assert _drop_connections(settings.database_url) > 0
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every checkout has idled
    try:
        response = client.get(path, headers=headers)
    finally:
        # The test's own pooled connections were dropped too: start its pools afresh.
        for name in ("fieldapi.engine", "fieldapi.read_engine"):
            app.extensions[name].dispose()

    assert response.status_code == 200, response.get_json()


def test_a_connection_in_steady_use_is_not_pinged(pg_only, app, client, world, as_user):
    headers = as_user("gw1")
    client.get("/api/v1/me", headers=headers)
    engines = [app.extensions[n] for n in ("fieldapi.engine", "fieldapi.read_engine")]
    pings = []
    for engine in engines:
        original = engine.dialect.do_ping
        engine.dialect.do_ping = lambda conn, original=original: pings.append(1) or original(conn)
    try:
        for _ in range(5):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
    finally:
        for engine in engines:
            del engine.dialect.do_ping
    assert pings == []
