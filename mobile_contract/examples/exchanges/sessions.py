"""Sessions: sign in, a wrong password, throttling, refresh, who am I, sign out; and
the signed-in headers of every persona for the groups that follow."""

from __future__ import annotations

from mobile_contract.examples.recorder import API, Recorder, bearer


def sessions(rec: Recorder, world) -> dict[str, dict[str, str]]:
    password = world.password
    login = rec.record(
        "sessions/login",
        "Sign in: tokens and the signed-in user",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw1", "password": password},
        address="10.30.1.1",
    )
    rec.record(
        "sessions/login-wrong-password",
        "Wrong password (an unknown username gets the same answer)",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw1", "password": "not the password"},
        address="10.30.1.2",
    )
    for _ in range(rec.app.extensions["fieldapi.settings"].login_failures_per_username):
        rec.send(
            "POST",
            f"{API}/auth/login",
            body={"username": "gw9", "password": "guess"},
            address="10.30.1.3",
        )
    rec.record(
        "sessions/login-throttled",
        "Too many failed attempts for this username: wait as Retry-After says",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw9", "password": "guess again"},
        address="10.30.1.3",
    )
    refreshed = rec.record(
        "sessions/refresh",
        "Exchange the refresh token for new tokens; the old refresh token stops working",
        "POST",
        f"{API}/auth/refresh",
        headers={"Authorization": f"Bearer {login.body['refresh_token']}"},
    )
    rec.record(
        "sessions/me",
        "Who am I: role and scope",
        "GET",
        f"{API}/me",
        headers=bearer(refreshed.body),
    )
    rec.record(
        "sessions/logout",
        "Sign out: both tokens stop working",
        "POST",
        f"{API}/auth/logout",
        headers=bearer(refreshed.body),
        body={"refresh_token": refreshed.body["refresh_token"]},
    )
    return {name: bearer(rec.login(name, password)) for name in world.users}
