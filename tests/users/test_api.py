"""Accounts over HTTP (admin only): create, list, read, change, and the create-admin command."""

from __future__ import annotations

import uuid

import pytest
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from fieldapi.users.models import User

USERS = "/api/v1/users"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/me"
NEW_PASSWORD = "a brand new passphrase"
NON_ADMINS = ["mgr1", "gw1", "officer1", "office1", "police1"]


def login(client, username, password):
    return client.post(LOGIN, json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_no_secrets(response, *passwords):
    text = response.get_data(as_text=True)
    assert "password" not in text.lower()
    assert "$argon2" not in text
    for password in passwords:
        assert password not in text


def assert_problem(response, status, slug):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    return body


def pointers(response):
    return [e["pointer"] for e in assert_problem(response, 422, "validation-failed")["errors"]]


def new_user(world, **changes):
    payload = {
        "username": "gw2",
        "password": NEW_PASSWORD,
        "role": "grid_staff",
        "area_ids": [str(world.areas["G2"])],
        "building_ids": [],
    }
    payload.update(changes)
    return payload


@pytest.fixture
def admin(as_user):
    return as_user("admin")


# --- create --------------------------------------------------------------------------------


def test_admin_creates_an_account_that_can_sign_in(client, world, admin, db):
    response = client.post(USERS, json=new_user(world, display_name="Wang Li"), headers=admin)

    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"]
    body = response.get_json()
    uuid.UUID(body["id"])
    assert body["username"] == "gw2"
    assert body["role"] == "grid_staff"
    assert body["display_name"] == "Wang Li"
    assert body["active"] is True
    assert body["area_ids"] == [str(world.areas["G2"])]
    assert body["building_ids"] == []
    assert_no_secrets(response, NEW_PASSWORD)
    fetched = client.get(f"{USERS}/{body['id']}", headers=admin)
    assert fetched.headers["ETag"] == response.headers["ETag"]
    assert db.get(User, uuid.UUID(body["id"])).password_hash.startswith("$argon2id$")
    signed_in = login(client, "gw2", NEW_PASSWORD)
    assert signed_in.status_code == 200
    assert signed_in.get_json()["user"]["id"] == body["id"]


def test_create_keeps_a_client_chosen_id_and_lowercases_the_username(client, world, admin):
    chosen = str(uuid.uuid4())

    response = client.post(
        USERS, json=new_user(world, id=chosen, username="Wang.Li"), headers=admin
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == chosen
    assert response.get_json()["username"] == "wang.li"
    assert login(client, "WANG.LI", NEW_PASSWORD).status_code == 200


def test_create_a_building_manager_with_buildings(client, world, admin):
    response = client.post(
        USERS,
        json=new_user(
            world,
            username="mgr2",
            role="building_manager",
            area_ids=[],
            building_ids=[str(world.buildings["B2"])],
        ),
        headers=admin,
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["building_ids"] == [str(world.buildings["B2"])]
    assert response.get_json()["area_ids"] == []


@pytest.mark.parametrize("username", ["gw1", "GW1"])
def test_a_taken_username_conflicts(client, world, admin, db, username):
    response = client.post(USERS, json=new_user(world, username=username), headers=admin)

    assert_problem(response, 409, "conflict")
    assert db.scalar(select(func.count()).select_from(User).where(User.username == "gw1")) == 1


def test_a_taken_id_conflicts(client, world, admin, db):
    response = client.post(USERS, json=new_user(world, id=str(world.users["gw1"])), headers=admin)

    assert_problem(response, 409, "conflict")
    assert db.get(User, world.users["gw1"]).username == "gw1"


def test_a_short_password_is_refused(client, world, admin):
    response = client.post(USERS, json=new_user(world, password="123456789"), headers=admin)

    assert pointers(response) == ["/password"]


def test_an_unknown_role_is_refused(client, world, admin):
    response = client.post(USERS, json=new_user(world, role="superuser"), headers=admin)

    assert pointers(response) == ["/role"]


def test_buildings_for_someone_other_than_a_manager_are_refused(client, world, admin):
    response = client.post(
        USERS, json=new_user(world, building_ids=[str(world.buildings["B1"])]), headers=admin
    )

    assert pointers(response) == ["/building_ids"]


def test_areas_for_a_building_manager_are_refused(client, world, admin):
    response = client.post(USERS, json=new_user(world, role="building_manager"), headers=admin)

    assert pointers(response) == ["/area_ids"]


def test_an_unknown_area_is_refused_at_its_position(client, world, admin):
    missing = str(uuid.uuid4())

    first = client.post(USERS, json=new_user(world, area_ids=[missing]), headers=admin)
    second = client.post(
        USERS, json=new_user(world, area_ids=[str(world.areas["G1"]), missing]), headers=admin
    )

    assert pointers(first) == ["/area_ids/0"]
    assert pointers(second) == ["/area_ids/1"]


def test_an_unknown_building_is_refused_at_its_position(client, world, admin):
    response = client.post(
        USERS,
        json=new_user(
            world, role="building_manager", area_ids=[], building_ids=[str(uuid.uuid4())]
        ),
        headers=admin,
    )

    assert pointers(response) == ["/building_ids/0"]


def test_an_unknown_field_is_refused(client, world, admin):
    response = client.post(USERS, json=new_user(world, is_superuser=True), headers=admin)

    assert pointers(response) == ["/is_superuser"]


def test_a_refused_create_stores_nothing(client, world, admin, db):
    client.post(USERS, json=new_user(world, area_ids=[str(uuid.uuid4())]), headers=admin)

    assert db.scalar(select(User).where(User.username == "gw2")) is None


# --- who may ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", NON_ADMINS)
def test_only_admins_manage_accounts(client, world, as_user, db, username):
    headers = as_user(username)
    target = f"{USERS}/{world.users['gw1']}"

    assert_problem(client.post(USERS, json=new_user(world), headers=headers), 403, "forbidden")
    assert_problem(client.get(USERS, headers=headers), 403, "forbidden")
    assert_problem(client.get(target, headers=headers), 403, "forbidden")
    assert_problem(
        client.patch(target, json={"role": "admin"}, headers={**headers, "If-Match": "*"}),
        403,
        "forbidden",
    )
    assert db.get(User, world.users["gw1"]).role == "grid_staff"
    assert db.scalar(select(User).where(User.username == "gw2")) is None


def test_accounts_need_a_token(client, world):
    assert_problem(client.get(USERS), 401, "authentication-required")


# --- list and read ------------------------------------------------------------------------


def test_list_filters_by_role(client, world, admin):
    client.post(USERS, json=new_user(world), headers=admin)

    response = client.get(USERS, query_string={"role": "grid_staff"}, headers=admin)

    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()["items"]] == ["gw1", "gw2"]
    assert {u["role"] for u in response.get_json()["items"]} == {"grid_staff"}
    assert_no_secrets(response, world.password, NEW_PASSWORD)


def test_list_refuses_an_unknown_role(client, world, admin):
    response = client.get(USERS, query_string={"role": "superuser"}, headers=admin)

    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["pointer"] == "/role"


def test_list_walks_every_page_once(client, world, admin):
    everyone = sorted(world.users)
    seen, cursor, pages = [], None, 0

    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(USERS, query_string=query, headers=admin)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["items"]) <= 2
        seen.extend(u["username"] for u in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10

    assert seen == everyone
    assert len(set(seen)) == len(seen)
    assert pages == 3


def test_list_refuses_a_broken_cursor(client, world, admin):
    response = client.get(USERS, query_string={"cursor": "not-a-cursor!"}, headers=admin)

    assert_problem(response, 400, "invalid-cursor")


def test_list_searches_by_name(client, world, admin):
    response = client.get(USERS, query_string={"q": "OFFICE"}, headers=admin)

    assert [u["username"] for u in response.get_json()["items"]] == ["office1", "officer1"]


def test_get_one_account(client, world, admin):
    response = client.get(f"{USERS}/{world.users['mgr1']}", headers=admin)

    assert response.status_code == 200
    assert response.headers["ETag"]
    body = response.get_json()
    assert body["username"] == "mgr1"
    assert body["building_ids"] == [str(world.buildings["B1"])]
    assert_no_secrets(response, world.password)


def test_an_unknown_account_is_not_found(client, world, admin):
    assert_problem(client.get(f"{USERS}/{uuid.uuid4()}", headers=admin), 404, "not-found")


# --- change -------------------------------------------------------------------------------


def _etag(client, admin, user_id):
    return client.get(f"{USERS}/{user_id}", headers=admin).headers["ETag"]


def test_patch_needs_if_match(client, world, admin, db):
    response = client.patch(
        f"{USERS}/{world.users['gw1']}", json={"display_name": "Zhang"}, headers=admin
    )

    assert_problem(response, 428, "precondition-required")
    assert db.get(User, world.users["gw1"]).display_name is None


def test_patch_with_a_stale_etag_fails(client, world, admin, db):
    target = f"{USERS}/{world.users['gw1']}"
    stale = _etag(client, admin, world.users["gw1"])
    first = client.patch(
        target, json={"display_name": "Zhang"}, headers={**admin, "If-Match": stale}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] != stale

    second = client.patch(target, json={"display_name": "Li"}, headers={**admin, "If-Match": stale})

    assert_problem(second, 412, "precondition-failed")
    db.expire_all()
    assert db.get(User, world.users["gw1"]).display_name == "Zhang"


def test_patch_changes_the_account(client, world, admin):
    target = f"{USERS}/{world.users['gw1']}"
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        target,
        json={
            "display_name": "Zhang Wei",
            "phone": "+86 138 0000 0000",
            "area_ids": [str(world.areas["G1"]), str(world.areas["G2"])],
        },
        headers={**admin, "If-Match": etag},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["display_name"] == "Zhang Wei"
    assert body["phone"] == "+86 138 0000 0000"
    assert sorted(body["area_ids"]) == sorted([str(world.areas["G1"]), str(world.areas["G2"])])
    assert response.headers["ETag"] == _etag(client, admin, world.users["gw1"])
    assert response.headers["ETag"] != etag
    assert_no_secrets(response, world.password)


def test_patch_refuses_buildings_for_a_non_manager(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"building_ids": [str(world.buildings["B1"])]},
        headers={**admin, "If-Match": etag},
    )

    assert pointers(response) == ["/building_ids"]


def test_patch_of_an_unknown_account_is_not_found(client, world, admin):
    response = client.patch(
        f"{USERS}/{uuid.uuid4()}", json={"display_name": "x"}, headers={**admin, "If-Match": "*"}
    )

    assert_problem(response, 404, "not-found")


def test_a_role_change_between_area_roles_keeps_the_areas(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"role": "officer"},
        headers={**admin, "If-Match": etag},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["role"] == "officer"
    assert response.get_json()["area_ids"] == [str(world.areas["G1"])]


def test_a_role_change_to_building_manager_drops_the_areas(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"role": "building_manager", "building_ids": [str(world.buildings["B1"])]},
        headers={**admin, "If-Match": etag},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["area_ids"] == []
    assert response.get_json()["building_ids"] == [str(world.buildings["B1"])]


@pytest.mark.parametrize(
    "change",
    [{"password": NEW_PASSWORD}, {"role": "officer"}, {"active": False}],
    ids=["password", "role", "deactivated"],
)
def test_password_role_or_deactivation_ends_the_users_sessions(client, world, admin, change):
    tokens = login(client, "gw1", world.password).get_json()
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}", json=change, headers={**admin, "If-Match": etag}
    )

    assert response.status_code == 200, response.get_json()
    assert_no_secrets(response, NEW_PASSWORD)
    assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401, "token-revoked")
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert_problem(refreshed, 401, "token-revoked")
    # Other accounts keep their sessions.
    assert client.get(ME, headers=admin).status_code == 200


def test_other_changes_keep_the_users_sessions(client, world, admin):
    tokens = login(client, "gw1", world.password).get_json()
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"display_name": "Zhang", "area_ids": [str(world.areas["G2"])]},
        headers={**admin, "If-Match": etag},
    )

    assert response.status_code == 200
    me = client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["area_ids"] == [str(world.areas["G2"])]


def test_a_new_password_replaces_the_old_one(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])
    client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"password": NEW_PASSWORD},
        headers={**admin, "If-Match": etag},
    )

    assert login(client, "gw1", world.password).status_code == 401
    assert login(client, "gw1", NEW_PASSWORD).status_code == 200


def test_a_short_new_password_is_refused(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"password": "short"},
        headers={**admin, "If-Match": etag},
    )

    assert pointers(response) == ["/password"]
    assert login(client, "gw1", world.password).status_code == 200


def test_the_username_cannot_be_patched(client, world, admin):
    etag = _etag(client, admin, world.users["gw1"])

    response = client.patch(
        f"{USERS}/{world.users['gw1']}",
        json={"username": "root"},
        headers={**admin, "If-Match": etag},
    )

    assert pointers(response) == ["/username"]


# --- create-admin -------------------------------------------------------------------------


def flask_cli(app, *args, password):
    """``flask --app wsgi ARGS`` with FIELDAPI_ADMIN_PASSWORD set, against this app."""
    cli = FlaskGroup(create_app=lambda: app, add_default_commands=False, load_dotenv=False)
    return app.test_cli_runner().invoke(
        cli, args=list(args), env={"FIELDAPI_ADMIN_PASSWORD": password}
    )


def test_create_admin_command_makes_an_admin_who_can_sign_in(app, client, db):
    result = flask_cli(app, "create-admin", "Chief", password=NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    assert "chief" in result.output
    assert NEW_PASSWORD not in result.output
    response = login(client, "chief", NEW_PASSWORD)
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "admin"
    assert client.get(USERS, headers=bearer(response.get_json()["access_token"])).status_code == 200


def test_create_admin_twice_fails_cleanly(app, client, db):
    assert flask_cli(app, "create-admin", "chief", password=NEW_PASSWORD).exit_code == 0

    again = flask_cli(app, "create-admin", "CHIEF", password="another long password")

    assert again.exit_code == 1
    assert "already exists" in again.output
    assert "Traceback" not in again.output
    assert again.exception is None or isinstance(again.exception, SystemExit)
    assert db.scalar(select(func.count()).select_from(User).where(User.username == "chief")) == 1
    assert login(client, "chief", NEW_PASSWORD).status_code == 200


def test_create_admin_refuses_a_short_password(app, db):
    result = flask_cli(app, "create-admin", "chief", password="short")

    assert result.exit_code == 1
    assert "password" in result.output
    assert db.scalar(select(User).where(User.username == "chief")) is None
