"""Test harness. ``FIELDAPI_TEST_BACKEND`` picks what the suite runs against:

- ``embedded`` (default): a SQLite file and the local blob folder;
- ``server``: a fresh PostgreSQL database (127.0.0.1:5432, or ``FIELDAPI_TEST_PG_URL``)
  and a real SeaweedFS S3 store started for the session.

The schema is built by the migrations, once per session; every test starts from empty
tables (truncated after each test), so tests see real commits.
"""

from __future__ import annotations

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
def app(migrated):
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


@pytest.fixture
def world(app) -> World:
    """Two streets of areas, buildings in and out of everyone's scope, one persona per role."""
    return build_world(app)


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
