"""The gate remembers access tokens it found good, by their text: what it must still do."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

from flask_jwt_extended import create_access_token, decode_token

from fieldapi import create_app
from fieldapi.auth import guard


def _login(client, world, username="gw1"):
    response = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": world.password},
        environ_base={"REMOTE_ADDR": f"10.8.{uuid.uuid4().int % 250}.1"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _mint(app, like: str, lasting: timedelta) -> str:
    """An access token of the same session and user as ``like``, lasting ``lasting``."""
    with app.app_context():
        claims = decode_token(like)
        return create_access_token(
            identity=claims["sub"],
            additional_claims={"sid": claims["sid"], "gen": claims.get("gen")},
            expires_delta=lasting,
        )


def _me(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_remembered_token_is_refused_once_it_expires(client, world, app, monkeypatch):
    token = _mint(app, _login(client, world), timedelta(seconds=30))
    assert _me(client, token).status_code == 200
    assert _me(client, token).status_code == 200  # from memory
    later = time.time() + 31
    monkeypatch.setattr(guard.time, "time", lambda: later)
    response = _me(client, token)
    assert response.status_code == 401
    assert response.get_json()["type"].endswith("/token-expired")


def test_a_remembered_token_with_another_signature_is_refused(client, world):
    token = _login(client, world)
    assert _me(client, token).status_code == 200
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    response = _me(client, f"{head}.{body}.{flipped}")
    assert response.status_code == 401
    assert response.get_json()["type"].endswith("/token-invalid")
    assert _me(client, token).status_code == 200


def test_tokens_are_remembered_per_app_and_key(client, world, app):
    token = _login(client, world)
    assert _me(client, token).status_code == 200
    settings = app.extensions["fieldapi.settings"]
    other = create_app(dataclasses.replace(settings, secret_key="z" * 48))
    try:
        response = _me(other.test_client(), token)
    finally:
        other.extensions["fieldapi.engine"].dispose()
        other.extensions["fieldapi.read_engine"].dispose()
    assert response.status_code == 401
    assert response.get_json()["type"].endswith("/token-invalid")


def test_a_remembered_token_of_an_ended_session_is_refused(client, world):
    token = _login(client, world)
    headers = {"Authorization": f"Bearer {token}"}
    assert _me(client, token).status_code == 200
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    response = _me(client, token)
    assert response.status_code == 401
    assert response.get_json()["type"].endswith("/token-revoked")


def test_the_memory_is_bounded(client, world, app, monkeypatch):
    monkeypatch.setattr(guard._Verifier, "REMEMBERED", 3)
    first = _login(client, world)
    tokens = [_mint(app, first, timedelta(minutes=5 + n)) for n in range(5)]
    for token in tokens:
        assert _me(client, token).status_code == 200
    assert len(app.extensions["fieldapi.jwt_verifier"].good) <= 3
