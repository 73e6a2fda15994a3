"""Sessions over HTTP: sign in, token lifetimes, refresh rotation, sign out, who am I."""

from __future__ import annotations

import dataclasses

import jwt
import pytest
from sqlalchemy import select, update

from fieldapi import create_app
from fieldapi.auth.models import AuthSession
from fieldapi.auth.service import REFRESH_RETRY_WINDOW
from fieldapi.core.db import utcnow
from fieldapi.users.models import User

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
PROBLEM = "application/problem+json"


def login(client, username, password, address="10.1.0.1"):
    return client.post(
        LOGIN,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_no_secrets(response, password):
    """Neither a password, nor its hash, nor a field named after either is in the answer."""
    text = response.get_data(as_text=True)
    assert "password" not in text.lower()
    assert "$argon2" not in text
    assert password not in text


def assert_problem(response, status, slug):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    return body


def claims(token, settings):
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"])


@pytest.fixture
def make_app(settings, app):
    """Another instance of the service on the same database: another worker or host."""
    made = []

    def make(**changes):
        other = create_app(dataclasses.replace(settings, **changes))
        made.append(other)
        return other

    yield make
    for other in made:
        other.extensions["fieldapi.engine"].dispose()


# --- sign in -------------------------------------------------------------------------------


def test_login_answers_tokens_and_the_user(client, world):
    response = login(client, "gw1", world.password)

    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body["access_token"], str)
    assert body["access_token"]
    assert isinstance(body["refresh_token"], str)
    assert body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    assert 0 < body["expires_in"] <= 900
    user = body["user"]
    assert user["id"] == str(world.users["gw1"])
    assert user["username"] == "gw1"
    assert user["role"] == "grid_staff"
    assert user["area_ids"] == [str(world.areas["G1"])]
    assert user["building_ids"] == []
    assert_no_secrets(response, world.password)


def test_the_login_token_opens_the_api(client, world):
    tokens = login(client, "gw1", world.password).get_json()

    response = client.get(ME, headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.get_json()["username"] == "gw1"


@pytest.mark.parametrize("typed", ["GW1", "Gw1", "  gw1  "])
def test_username_is_case_insensitive(client, world, typed):
    response = login(client, typed, world.password)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["id"] == str(world.users["gw1"])


def test_unknown_user_and_wrong_password_answer_byte_for_byte_alike(client, world):
    wrong_password = login(client, "gw1", "not the password at all")
    unknown_user = login(client, "nobody-here", world.password)

    body = assert_problem(wrong_password, 401, "invalid-credentials")
    assert_problem(unknown_user, 401, "invalid-credentials")
    assert wrong_password.get_data() == unknown_user.get_data()
    assert "access_token" not in body


def test_inactive_user_cannot_sign_in_and_looks_like_bad_credentials(client, world, db):
    wrong_password = login(client, "officer1", "not the password at all")
    db.get(User, world.users["gw1"]).active = False
    db.commit()

    response = login(client, "gw1", world.password)

    assert_problem(response, 401, "invalid-credentials")
    assert response.get_data() == wrong_password.get_data()


def test_login_rejects_a_missing_password(client, world):
    response = client.post(LOGIN, json={"username": "gw1"})

    body = assert_problem(response, 422, "validation-failed")
    assert [e["pointer"] for e in body["errors"]] == ["/password"]


# --- password hashing ----------------------------------------------------------------------


def _stored_hash(db, user_id):
    db.expire_all()
    return db.scalar(select(User.password_hash).where(User.id == user_id))


def test_passwords_are_stored_as_argon2id(world, db, settings):
    stored = _stored_hash(db, world.users["gw1"])

    assert stored.startswith("$argon2id$")
    assert f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost}," in stored
    assert world.password not in stored


def test_login_rehashes_when_the_hashing_parameters_change(world, db, settings, make_app):
    before = _stored_hash(db, world.users["gw1"])
    stronger = make_app(argon2_time_cost=settings.argon2_time_cost + 1).test_client()

    refused = login(stronger, "gw1", "not the password at all")
    assert refused.status_code == 401
    assert _stored_hash(db, world.users["gw1"]) == before  # only a proven password is rehashed

    assert login(stronger, "gw1", world.password).status_code == 200

    after = _stored_hash(db, world.users["gw1"])
    assert after != before
    assert after.startswith("$argon2id$")
    assert f",t={settings.argon2_time_cost + 1}," in after
    assert f",t={settings.argon2_time_cost}," in before


def test_login_leaves_a_current_hash_alone(client, world, db):
    before = _stored_hash(db, world.users["gw1"])

    assert login(client, "gw1", world.password).status_code == 200

    assert _stored_hash(db, world.users["gw1"]) == before


# --- token lifetimes -----------------------------------------------------------------------


def test_access_tokens_last_at_most_15_minutes_and_refresh_tokens_30_days(client, world, settings):
    body = login(client, "gw1", world.password).get_json()

    access = claims(body["access_token"], settings)
    refresh = claims(body["refresh_token"], settings)

    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert 0 < access["exp"] - access["iat"] <= 15 * 60
    assert body["expires_in"] == access["exp"] - access["iat"]
    assert 15 * 60 < refresh["exp"] - refresh["iat"] <= 30 * 24 * 3600
    assert access["sub"] == refresh["sub"] == str(world.users["gw1"])
    assert access["sid"] == refresh["sid"]


def test_lifetimes_are_capped_even_when_configured_longer(world, settings, make_app):
    lax = make_app(access_token_minutes=120, refresh_token_days=365).test_client()

    body = login(lax, "gw1", world.password).get_json()

    access = claims(body["access_token"], settings)
    refresh = claims(body["refresh_token"], settings)
    assert access["exp"] - access["iat"] <= 15 * 60
    assert body["expires_in"] <= 15 * 60
    assert refresh["exp"] - refresh["iat"] <= 30 * 24 * 3600


# --- refresh -------------------------------------------------------------------------------


def test_refresh_rotates_the_pair(client, world, settings):
    first = login(client, "gw1", world.password).get_json()

    response = client.post(REFRESH, headers=bearer(first["refresh_token"]))

    assert response.status_code == 200, response.get_json()
    second = response.get_json()
    assert 0 < second["expires_in"] <= 900
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (
        claims(second["access_token"], settings)["sid"]
        == claims(first["access_token"], settings)["sid"]
    )
    me = client.get(ME, headers=bearer(second["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["username"] == "gw1"
    # The new refresh token rotates in turn.
    third = client.post(REFRESH, headers=bearer(second["refresh_token"]))
    assert third.status_code == 200


def test_a_spent_refresh_token_is_refused_and_ends_the_whole_session(client, world):
    first = login(client, "gw1", world.password).get_json()
    second = client.post(REFRESH, headers=bearer(first["refresh_token"])).get_json()
    assert client.get(ME, headers=bearer(second["access_token"])).status_code == 200

    replay = client.post(REFRESH, headers=bearer(first["refresh_token"]))

    assert_problem(replay, 401, "token-revoked")
    # Whoever holds the newest tokens is signed out too: someone else had a copy.
    assert_problem(client.get(ME, headers=bearer(second["access_token"])), 401, "token-revoked")
    assert_problem(
        client.post(REFRESH, headers=bearer(second["refresh_token"])), 401, "token-revoked"
    )
    assert_problem(client.get(ME, headers=bearer(first["access_token"])), 401, "token-revoked")


def test_a_refresh_whose_answer_was_lost_can_be_sent_again(client, world):
    """The line dropped after the server rotated: the phone still holds the old refresh token
    and has used nothing of the new pair. Sending it again works; the lost pair is dead."""
    first = login(client, "gw1", world.password).get_json()
    lost = client.post(REFRESH, headers=bearer(first["refresh_token"])).get_json()

    again = client.post(REFRESH, headers=bearer(first["refresh_token"]))

    assert again.status_code == 200, again.get_json()
    tokens = again.get_json()
    assert tokens["refresh_token"] not in (first["refresh_token"], lost["refresh_token"])
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    # The pair the phone never got would be a copy in someone else's hands: it is reuse.
    assert_problem(
        client.post(REFRESH, headers=bearer(lost["refresh_token"])), 401, "token-revoked"
    )
    assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401, "token-revoked")


def test_the_replaced_token_is_spent_once_the_new_pair_is_used(client, world):
    first = login(client, "gw1", world.password).get_json()
    second = client.post(REFRESH, headers=bearer(first["refresh_token"])).get_json()
    # Using the new refresh token proves the phone got it, as using its access token does.
    third = client.post(REFRESH, headers=bearer(second["refresh_token"])).get_json()

    assert_problem(
        client.post(REFRESH, headers=bearer(first["refresh_token"])), 401, "token-revoked"
    )
    assert_problem(client.get(ME, headers=bearer(third["access_token"])), 401, "token-revoked")


def test_the_replaced_token_comes_back_only_within_the_retry_window(client, world, db):
    first = login(client, "gw1", world.password).get_json()
    client.post(REFRESH, headers=bearer(first["refresh_token"]))
    db.execute(update(AuthSession).values(refreshed_at=utcnow() - REFRESH_RETRY_WINDOW))
    db.commit()

    assert_problem(
        client.post(REFRESH, headers=bearer(first["refresh_token"])), 401, "token-revoked"
    )


def test_reuse_ends_only_that_session(client, world):
    phone = login(client, "gw1", world.password).get_json()
    tablet = login(client, "gw1", world.password).get_json()
    renewed = client.post(REFRESH, headers=bearer(phone["refresh_token"])).get_json()
    assert client.get(ME, headers=bearer(renewed["access_token"])).status_code == 200

    assert client.post(REFRESH, headers=bearer(phone["refresh_token"])).status_code == 401

    assert client.get(ME, headers=bearer(tablet["access_token"])).status_code == 200


def test_an_access_token_cannot_refresh(client, world):
    tokens = login(client, "gw1", world.password).get_json()

    response = client.post(REFRESH, headers=bearer(tokens["access_token"]))

    assert_problem(response, 401, "token-invalid")


def test_a_refresh_token_is_not_an_access_token(client, world):
    tokens = login(client, "gw1", world.password).get_json()

    response = client.get(ME, headers=bearer(tokens["refresh_token"]))

    assert_problem(response, 401, "token-invalid")


def test_refresh_needs_a_token(client, world):
    assert_problem(client.post(REFRESH), 401, "authentication-required")


def test_a_forged_token_is_refused(client, world, settings):
    tokens = login(client, "gw1", world.password).get_json()
    payload = claims(tokens["access_token"], settings)
    forged = jwt.encode(payload, "another-key-" + "y" * 40, algorithm="HS256")

    assert_problem(client.get(ME, headers=bearer(forged)), 401, "token-invalid")


# --- sign out ------------------------------------------------------------------------------


def test_logout_ends_both_tokens_on_every_instance(client, world, make_app, settings):
    tokens = login(client, "gw1", world.password).get_json()
    other_worker = make_app().test_client()
    assert other_worker.get(ME, headers=bearer(tokens["access_token"])).status_code == 200

    response = client.post(
        LOGOUT,
        headers=bearer(tokens["access_token"]),
        json={"refresh_token": tokens["refresh_token"]},
    )

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(
        other_worker.get(ME, headers=bearer(tokens["access_token"])), 401, "token-revoked"
    )
    assert_problem(
        other_worker.post(REFRESH, headers=bearer(tokens["refresh_token"])), 401, "token-revoked"
    )
    assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401, "token-revoked")


def test_logout_without_a_body_still_ends_the_session(client, world):
    tokens = login(client, "gw1", world.password).get_json()

    response = client.post(LOGOUT, headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers  # no content, so no type of content
    assert client.post(REFRESH, headers=bearer(tokens["refresh_token"])).status_code == 401


def test_logout_ends_the_refresh_tokens_session_and_no_other(client, world, db):
    phone = login(client, "gw1", world.password).get_json()
    tablet = login(client, "gw1", world.password).get_json()
    laptop = login(client, "gw1", world.password).get_json()

    # Signing out from the phone names the tablet's refresh token: both sessions end.
    response = client.post(
        LOGOUT,
        headers=bearer(phone["access_token"]),
        json={"refresh_token": tablet["refresh_token"]},
    )

    assert response.status_code == 204
    assert client.get(ME, headers=bearer(phone["access_token"])).status_code == 401
    assert client.post(REFRESH, headers=bearer(tablet["refresh_token"])).status_code == 401
    assert client.get(ME, headers=bearer(laptop["access_token"])).status_code == 200
    reasons = db.scalars(
        select(AuthSession.revoked_reason).where(AuthSession.user_id == world.users["gw1"])
    ).all()
    assert sorted(reasons, key=str) == sorted(["logout", "logout", None], key=str)


def test_logout_cannot_end_someone_elses_session(client, world):
    mine = login(client, "gw1", world.password).get_json()
    theirs = login(client, "officer1", world.password).get_json()

    response = client.post(
        LOGOUT,
        headers=bearer(mine["access_token"]),
        json={"refresh_token": theirs["refresh_token"]},
    )

    assert response.status_code == 204
    assert client.get(ME, headers=bearer(theirs["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(theirs["refresh_token"])).status_code == 200


def test_logout_needs_an_access_token(client, world):
    tokens = login(client, "gw1", world.password).get_json()

    assert_problem(client.post(LOGOUT), 401, "authentication-required")
    response = client.post(LOGOUT, headers=bearer(tokens["refresh_token"]))
    assert_problem(response, 401, "token-invalid")
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200


# --- who am I ------------------------------------------------------------------------------

EXPECTED_SCOPE = {
    "admin": ("admin", [], []),
    "mgr1": ("building_manager", [], ["B1"]),
    "gw1": ("grid_staff", ["G1"], []),
    "officer1": ("officer", ["Shuiwei"], []),
    "office1": ("fire_office", ["Shahe"], []),
    "police1": ("fire_police", ["Shahe"], []),
}


@pytest.mark.parametrize("username", sorted(EXPECTED_SCOPE))
def test_me_names_the_role_and_scope_of_each_persona(client, world, as_user, username):
    role, areas, buildings = EXPECTED_SCOPE[username]

    response = client.get(ME, headers=as_user(username))

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(world.users[username])
    assert body["username"] == username
    assert body["role"] == role
    assert body["area_ids"] == [str(world.areas[a]) for a in areas]
    assert body["building_ids"] == [str(world.buildings[b]) for b in buildings]
    assert body["active"] is True
    assert_no_secrets(response, world.password)


def test_me_needs_a_token(client, world):
    assert_problem(client.get(ME), 401, "authentication-required")


def test_me_follows_a_deactivation_at_once(client, world, db):
    tokens = login(client, "gw1", world.password).get_json()
    db.get(User, world.users["gw1"]).active = False
    db.commit()

    assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401, "token-revoked")
    assert_problem(
        client.post(REFRESH, headers=bearer(tokens["refresh_token"])), 401, "token-revoked"
    )


HOT_READS = ("/api/v1/me", "/api/v1/buildings", "/api/v1/buildings/{B1}", "/api/v1/inbox")


@pytest.mark.parametrize("path", HOT_READS)
def test_a_session_ended_on_one_worker_is_refused_by_the_hot_reads_of_another(
    client, world, make_app, path
):
    path = path.format(B1=world.buildings["B1"])
    tokens = login(client, "gw1", world.password).get_json()
    other_worker = make_app().test_client()
    assert other_worker.get(path, headers=bearer(tokens["access_token"])).status_code == 200

    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204

    assert_problem(
        other_worker.get(path, headers=bearer(tokens["access_token"])), 401, "token-revoked"
    )


@pytest.mark.parametrize("path", HOT_READS)
def test_a_reused_refresh_token_ends_the_session_on_every_worker_at_once(
    client, world, make_app, path
):
    path = path.format(B1=world.buildings["B1"])
    first = login(client, "gw1", world.password).get_json()
    renewed = client.post(REFRESH, headers=bearer(first["refresh_token"])).get_json()
    other_worker = make_app().test_client()
    assert other_worker.get(path, headers=bearer(renewed["access_token"])).status_code == 200

    # The spent token comes back to a third worker: someone holds a copy.
    third_worker = make_app().test_client()
    assert_problem(
        third_worker.post(REFRESH, headers=bearer(first["refresh_token"])), 401, "token-revoked"
    )

    for worker in (client, other_worker):
        assert_problem(
            worker.get(path, headers=bearer(renewed["access_token"])), 401, "token-revoked"
        )
