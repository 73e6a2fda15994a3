"""Test harness. ``FIELDAPI_TEST_BACKEND`` picks what the suite runs against:

- ``embedded`` (default): a SQLite file and the local blob folder;
- ``server``: a fresh PostgreSQL database (127.0.0.1:5432, or ``FIELDAPI_TEST_PG_URL``)
  and a real SeaweedFS S3 store started for the session.

The schema is built by the migrations, once per session; every test starts from empty
tables (truncated after each test), so tests see real commits.
"""

from __future__ import annotations

import copy
import os
import uuid

import psycopg
import pytest
from sqlalchemy import text

from fieldapi import create_app
from fieldapi.config import Settings
from fieldapi.core import migrate
from fieldapi.models import Base
from fieldapi.review.defaults import install_defaults
from tests.support.world import World, build_world

pytest_plugins = ["tests.support.seaweedfs"]

BACKEND = os.environ.get("FIELDAPI_TEST_BACKEND", "embedded")
PG_ADMIN_URL = os.environ.get(
    "FIELDAPI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-key-" + "x" * 40


def pytest_report_header(config):
    return f"fieldapi backend: {BACKEND}"


@pytest.fixture(scope="session")
def backend() -> str:
    if BACKEND not in ("embedded", "server"):
        raise pytest.UsageError("FIELDAPI_TEST_BACKEND must be 'embedded' or 'server'")
    return BACKEND


@pytest.fixture(scope="session")
def database_url(backend, tmp_path_factory):
    if backend == "embedded":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'fieldapi.db'}"
        return
    name = f"fieldapi_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def storage_url(backend, tmp_path_factory, request):
    """``file://`` for the embedded run, a bucket on SeaweedFS for the server run."""
    if backend == "embedded":
        return (tmp_path_factory.mktemp("blobs")).as_uri(), {}
    server = request.getfixturevalue("seaweedfs")
    env = {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
    }
    os.environ.update(env)
    return f"s3://{server.bucket}", {"endpoint_url": server.endpoint_url}


@pytest.fixture(scope="session")
def settings(database_url, storage_url, tmp_path_factory) -> Settings:
    url, s3 = storage_url
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        storage_url=url,
        s3_endpoint_url=s3.get("endpoint_url"),
        s3_region=os.environ.get("AWS_DEFAULT_REGION"),
        secret_key=TEST_SECRET,
        public_url=None,
        redis_url=None,
        # Cheap hashing keeps the suite fast; production parameters are the defaults.
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )


@pytest.fixture(scope="session")
def migrated(settings):
    app = create_app(settings)
    migrate.upgrade(app.extensions["fieldapi.engine"])
    return app


@pytest.fixture
def app(migrated, _world_rows):
    yield migrated
    _empty_tables(migrated.extensions["fieldapi.engine"])
    _restore_reference_data(migrated)


def _restore_reference_data(app) -> None:
    """Rows the migrations install, which every test starts from: the default routing table."""
    with app.extensions["fieldapi.sessionmaker"]() as session:
        install_defaults(session)
        session.commit()


def _empty_tables(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        return
    with engine.connect() as conn:
        # The area tree refers to itself; SQLite checks that row by row.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (names from our metadata)
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A session for arranging and inspecting data directly; committed by the test."""
    session = app.extensions["fieldapi.sessionmaker"]()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def _world_rows(migrated) -> tuple[World, dict[str, list[dict]]]:
    """The test world, built once through the services; every row it wrote, per table."""
    engine = migrated.extensions["fieldapi.engine"]
    _empty_tables(engine)
    _restore_reference_data(migrated)
    with engine.connect() as conn:
        tables = Base.metadata.sorted_tables
        reference = {t.name for t in tables if conn.execute(t.select()).first() is not None}
    built = build_world(migrated)
    rows: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in reference:
                continue
            found = [dict(r) for r in conn.execute(table.select()).mappings()]
            if "path" in table.c:  # a tree: parents before their children
                found.sort(key=lambda r: len(r["path"]))
            if found:
                rows[table.name] = found
    _empty_tables(engine)
    _restore_reference_data(migrated)
    return built, rows


@pytest.fixture
def world(app, _world_rows) -> World:
    """Two streets of areas, buildings in and out of everyone's scope, one persona per role.

    Built once by the services (``build_world``) and put back row for row before each test
    that asks for it, which is what building it again would write.
    """
    built, rows = _world_rows
    with app.extensions["fieldapi.engine"].begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])
    return copy.deepcopy(built)


@pytest.fixture
def as_user(client, world):
    """``as_user("gw1")`` → headers with a bearer token for that persona."""
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            response = client.post(
                "/api/v1/auth/login",
                json={"username": username, "password": world.password},
                environ_base={"REMOTE_ADDR": f"10.9.{len(cache)}.1"},
            )
            assert response.status_code == 200, response.get_json()
            cache[username] = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
        return cache[username]

    return headers
