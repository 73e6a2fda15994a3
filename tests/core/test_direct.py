"""Hot statements run on the driver's connection give what SQLAlchemy's execute gives."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, event, exc, literal, select, text

from fieldapi.areas.models import Area
from fieldapi.auth.models import AuthSession
from fieldapi.buildings.models import Building, BuildingFile
from fieldapi.core import direct
from fieldapi.users.models import User

_BUILDINGS = select(
    Building.id,
    Building.code,
    Building.grid_id,
    Building.lat,
    Building.updated_at,
    Building.next_self_check_due_at,
    Building.version,
    literal("constant").label("kind"),
).where(Building.version >= bindparam("version"))
_USERS = select(User.id, User.active, User.role, User.created_at).order_by(User.username)
_AREAS = select(Area.id, Area.boundary, Area.path).order_by(Area.path)
_SESSIONS = select(AuthSession.id, AuthSession.expires_at, AuthSession.newest_used)
_FILES = select(BuildingFile.building_id, BuildingFile.fresh_until, BuildingFile.masked)


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (_BUILDINGS, {"version": 1}),
        (_USERS, {}),
        (_AREAS, {}),
        (_SESSIONS, {}),
        (_FILES, {}),
    ],
)
def test_the_same_rows_and_values_as_execute(app, world, as_user, statement, params):
    as_user("gw1")  # a session row
    engine = app.extensions["fieldapi.read_engine"]
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement, params)]
        for _ in range(7):  # past the driver's threshold for preparing a statement
            got = direct.rows(conn, statement, params)
    assert expected, "the world has rows of each kind"
    assert got == expected
    assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in expected]


def test_a_statement_whose_sql_depends_on_its_values_runs_as_usual(app, world):
    ids = list(world.buildings.values())[:2]
    statement = select(Building.id).where(Building.id.in_(bindparam("ids", expanding=True)))
    with app.extensions["fieldapi.read_engine"].connect() as conn:
        got = direct.rows(conn, statement, {"ids": ids})
    assert sorted(r[0] for r in got) == sorted(ids)


def test_cursor_events_see_the_statement(app, world):
    engine = app.extensions["fieldapi.read_engine"]
    seen = []

    def note(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with engine.connect() as conn:
            direct.rows(conn, _USERS, {})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(seen) == 1
    assert "FROM users" in seen[0]


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(app):
    broken = select(text("no_such_column")).select_from(User)
    with app.extensions["fieldapi.read_engine"].connect() as conn:
        with pytest.raises(exc.DBAPIError) as raised:
            direct.rows(conn, broken, {})
        assert "no_such_column" in str(raised.value.orig)
        assert direct.rows(conn, _USERS, {}) is not None  # the connection still serves
