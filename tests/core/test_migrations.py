"""Migrations build the schema the models describe, from empty, and step back down."""

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fieldapi.core import db as database
from fieldapi.core import migrate
from fieldapi.models import Base
from fieldapi.review.defaults import DEFAULT_RULES
from fieldapi.review.models import RoutingRule
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def empty_engine(backend, tmp_path):
    if backend == "embedded":
        engine = database.make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    name = f"fieldapi_migr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = database.make_engine(f"{base}/{name}")
    yield engine
    engine.dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_from_empty_matches_models(empty_engine):
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_downgrade_to_base_and_up_again(empty_engine):
    migrate.upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert {"buildings", "users", "areas", "auth_sessions"} <= tables
    migrate.downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_engine)
    assert migrate.current_heads(empty_engine) == migrate.script_heads()


def test_a_new_install_routes_with_the_default_table(empty_engine):
    """The migration writes the routing table the code ships as its default, row for row."""
    migrate.upgrade(empty_engine)
    with Session(empty_engine) as session:
        stored = [
            {name: getattr(rule, name) for name in DEFAULT_RULES[0]}
            for rule in session.scalars(select(RoutingRule).order_by(RoutingRule.position))
        ]
    assert stored == [dict(rule) for rule in DEFAULT_RULES]
