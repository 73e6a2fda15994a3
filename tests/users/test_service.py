"""Account rules, below HTTP: hashing, assignments, who reads what, what ends sessions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldapi.auth.models import AuthSession
from fieldapi.core.db import utcnow
from fieldapi.core.problems import Conflict, NotFound, PreconditionFailed, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.users import service
from fieldapi.users.models import User

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def passwords(app):
    return app.extensions["fieldapi.passwords"]


@pytest.fixture
def root(world):
    return Actor(user_id=world.users["admin"], username="admin", role="admin")


def data(**changes):
    values = {
        "username": "gw2",
        "password": NEW_PASSWORD,
        "role": "grid_staff",
        "active": True,
        "area_ids": [],
        "building_ids": [],
    }
    values.update(changes)
    return values


def open_session(db, user_id):
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user_id,
        refresh_jti=uuid.uuid4().hex,
        expires_at=utcnow() + timedelta(days=1),
    )
    db.add(auth_session)
    db.commit()
    return auth_session.id


def revoked_reason(db, session_id):
    db.expire_all()
    row = db.get(AuthSession, session_id)
    return (row.revoked_at is not None, row.revoked_reason)


def change(db, passwords, root, user_id, **values):
    user = db.get(User, user_id)
    updated = service.update_user(
        db=db,
        passwords=passwords,
        actor=root,
        user_id=user_id,
        data=values,
        if_match=service.user_etag(user),
    )
    db.commit()
    return updated


def test_create_stores_a_lowercase_name_and_an_argon2id_hash(db, world, passwords):
    user = service.create_user(
        db=db, passwords=passwords, data=data(username="Wang.Li", area_ids=[world.areas["G1"]])
    )
    db.commit()

    assert user.username == "wang.li"
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.verify(user.password_hash, NEW_PASSWORD)
    assert not passwords.verify(user.password_hash, NEW_PASSWORD.upper())
    assert user.area_ids == [world.areas["G1"]]


def test_create_refuses_a_name_taken_in_another_case(db, world, passwords):
    with pytest.raises(Conflict):
        service.create_user(db=db, passwords=passwords, data=data(username="GW1"))


@pytest.mark.parametrize(
    ("role", "areas", "buildings", "pointer"),
    [
        ("admin", ["G1"], [], "/area_ids"),
        ("building_manager", ["G1"], [], "/area_ids"),
        ("grid_staff", [], ["B1"], "/building_ids"),
        ("officer", [], ["B1"], "/building_ids"),
    ],
)
def test_assignments_must_fit_the_role(db, world, passwords, role, areas, buildings, pointer):
    values = data(
        role=role,
        area_ids=[world.areas[a] for a in areas],
        building_ids=[world.buildings[b] for b in buildings],
    )

    with pytest.raises(ValidationFailed) as refused:
        service.create_user(db=db, passwords=passwords, data=values)

    assert [e["pointer"] for e in refused.value.errors] == [pointer]


def test_unknown_buildings_are_named_by_position(db, world, passwords):
    values = data(role="building_manager", building_ids=[world.buildings["B1"], uuid.uuid4()])

    with pytest.raises(ValidationFailed) as refused:
        service.create_user(db=db, passwords=passwords, data=values)

    assert [e["pointer"] for e in refused.value.errors] == ["/building_ids/1"]


def test_others_read_only_their_own_account(db, world):
    gw1 = Actor(user_id=world.users["gw1"], username="gw1", role="grid_staff")

    assert service.get_user(db=db, actor=gw1, user_id=gw1.user_id).username == "gw1"
    with pytest.raises(NotFound):
        service.get_user(db=db, actor=gw1, user_id=world.users["officer1"])
    listed, _cursor = service.list_users(db=db, actor=gw1, role=None, q=None, limit=50, cursor=None)
    assert [u.username for u in listed] == ["gw1"]


def test_list_matches_display_names_in_any_case(db, world, passwords, root):
    change(db, passwords, root, world.users["police1"], display_name="Chen Jing")

    found, next_cursor = service.list_users(
        db=db, actor=root, role=None, q="chen", limit=10, cursor=None
    )

    assert [u.username for u in found] == ["police1"]
    assert next_cursor is None


@pytest.mark.parametrize(
    "values",
    [{"password": NEW_PASSWORD}, {"role": "fire_office"}, {"active": False}],
    ids=["password", "role", "deactivated"],
)
def test_changes_that_end_sessions(db, world, passwords, root, values):
    gw1_session = open_session(db, world.users["gw1"])
    other_session = open_session(db, world.users["officer1"])

    change(db, passwords, root, world.users["gw1"], **values)

    assert revoked_reason(db, gw1_session) == (True, "account_changed")
    assert revoked_reason(db, other_session) == (False, None)


def test_other_changes_keep_sessions(db, world, passwords, root):
    gw1_session = open_session(db, world.users["gw1"])

    change(db, passwords, root, world.users["gw1"], display_name="Zhang", phone="+86 138 0000")

    assert revoked_reason(db, gw1_session) == (False, None)


def test_a_new_password_is_hashed_and_dated(db, world, passwords, root):
    before = db.get(User, world.users["gw1"]).password_changed_at

    user = change(db, passwords, root, world.users["gw1"], password=NEW_PASSWORD)

    assert passwords.verify(user.password_hash, NEW_PASSWORD)
    assert not passwords.verify(user.password_hash, world.password)
    assert user.password_changed_at > before


def test_a_role_change_keeps_areas_only_where_they_still_mean_something(db, world, passwords, root):
    officer = change(db, passwords, root, world.users["officer1"], role="fire_police")
    assert officer.area_ids == [world.areas["Shuiwei"]]

    promoted = change(db, passwords, root, world.users["gw1"], role="admin")
    assert promoted.area_ids == []
    assert promoted.building_ids == []


def test_a_concurrent_change_is_refused_not_lost(app, db, world, passwords, root):
    stale = service.get_user(db=db, actor=root, user_id=world.users["gw1"])
    stale_etag = service.user_etag(stale)
    other = app.extensions["fieldapi.sessionmaker"]()
    try:
        change(other, passwords, root, world.users["gw1"], display_name="Saved first")
    finally:
        other.close()

    with pytest.raises(PreconditionFailed):
        service.update_user(
            db=db,
            passwords=passwords,
            actor=root,
            user_id=world.users["gw1"],
            data={"display_name": "Saved second"},
            if_match=stale_etag,
        )

    db.rollback()
    assert db.scalar(select(User.display_name).where(User.id == world.users["gw1"])) == (
        "Saved first"
    )
