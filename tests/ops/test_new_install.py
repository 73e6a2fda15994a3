"""A new install, as the README's production section sets it up, on a fresh database.

The operator's commands run through Flask's CLI runner (``flask --app wsgi db upgrade``,
``flask --app wsgi create-admin``); everything after them goes through the API, as the
admin's web client and the building manager's phone would: the area tree, a grid, a
building and the manager's account, then the manager's photos and self-check, submitted
into review. No step outside the README is taken: the checklist template the self-check
needs is there because ``db upgrade`` put it there.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import func, select

from fieldapi import create_app
from fieldapi.buildings.models import USE_TYPES
from fieldapi.checklists.defaults import DEFAULT_ITEMS, DEFAULT_NAME
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.review.models import Submission
from tests.conftest import PG_ADMIN_URL
from tests.photos.conftest import PhotoClient, small_jpeg

ADMIN_PASSWORD = "first admin password 2026"
MANAGER_PASSWORD = "manager of block twelve"
SITE = {"lat": 22.528, "lon": 114.063}


@pytest.fixture
def fresh_app(backend, settings, tmp_path):
    """An app on a database nothing has touched yet (the photo store is the suite's)."""
    if backend == "embedded":
        url = f"sqlite:///{tmp_path / 'new-install.db'}"
        name = None
    else:
        name = f"fieldapi_install_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{base}/{name}"
    app = create_app(dataclasses.replace(settings, database_url=url))
    yield app
    app.extensions["fieldapi.engine"].dispose()
    if name is not None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flask(app, *args: str, env: dict[str, str] | None = None):
    """``flask --app wsgi ARGS`` against ``app``; the result, checked to have succeeded."""
    result = app.test_cli_runner().invoke(args=list(args), env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def sign_in(client, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def created(response) -> dict:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def templates(app) -> dict[str, list[int]]:
    """The stored template versions of each use type."""
    with app.extensions["fieldapi.sessionmaker"]() as session:
        rows = session.execute(
            select(ChecklistTemplate.use_type, ChecklistTemplate.version).order_by(
                ChecklistTemplate.use_type, ChecklistTemplate.version
            )
        )
        found: dict[str, list[int]] = {}
        for use_type, version in rows:
            found.setdefault(use_type, []).append(version)
        return found


def test_the_production_steps_take_a_manager_to_a_submitted_self_check(fresh_app):
    app, client = fresh_app, fresh_app.test_client()

    # The operator, on the server, as the README's production section says.
    flask(app, "db", "upgrade")
    flask(app, "create-admin", "chief", env={"FIELDAPI_ADMIN_PASSWORD": ADMIN_PASSWORD})

    # The admin: the area tree, a grid, a building, the building's manager.
    admin = sign_in(client, "chief", ADMIN_PASSWORD)
    parent = None
    for name, kind in (("福田区 Futian", "district"), ("沙头街道 Shatou", "street"),
                       ("水围社区 Shuiwei", "community")):  # fmt: skip
        body = {"name": name, "kind": kind, "parent_id": parent}
        parent = created(client.post("/api/v1/areas", json=body, headers=admin))["id"]
    grid = created(
        client.post("/api/v1/grids", json={"name": "网格 1", "parent_id": parent}, headers=admin)
    )
    building = created(
        client.post(
            "/api/v1/buildings",
            json={
                "code": "FT-SW-0012",
                "name": "水围村 12 栋",
                "address": "深圳市福田区沙头街道水围村 12 栋",
                "grid_id": grid["id"],
                "location": SITE,
                "use_type": "residential",
            },
            headers=admin,
        )
    )
    created(
        client.post(
            "/api/v1/users",
            json={
                "username": "manager12",
                "password": MANAGER_PASSWORD,
                "role": "building_manager",
                "building_ids": [building["id"]],
            },
            headers=admin,
        )
    )

    # The manager's phone: the template, a photo where it asks for one, the self-check.
    manager = sign_in(client, "manager12", MANAGER_PASSWORD)
    listed = client.get("/api/v1/templates?use_type=residential", headers=manager)
    assert listed.status_code == 200, listed.get_json()
    (template,) = listed.get_json()["items"]
    photos = PhotoClient(client, app)
    items = []
    for seed, item in enumerate(template["items"]):
        result = {"code": item["code"], "result": "pass"}
        if item["photo_required"]:
            result["photo_ids"] = [photos.verified(manager, small_jpeg(7000 + seed))["id"]]
        items.append(result)
    assert any("photo_ids" in result for result in items)
    inspection_id = str(uuid.uuid4())
    created(
        client.post(
            "/api/v1/inspections",
            json={
                "id": inspection_id,
                "building_id": building["id"],
                "kind": "self_check",
                "performed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "location": SITE,
                "items": items,
            },
            headers=manager,
        )
    )
    submitted = client.post(f"/api/v1/inspections/{inspection_id}/submit", headers=manager)

    assert submitted.status_code == 200, submitted.get_json()
    answer = submitted.get_json()
    assert answer["status"] == "submitted"
    assert answer["template_id"] == template["id"]
    assert answer["stage"] == "grid_review"
    review = client.get(f"/api/v1/submissions/{answer['submission_id']}", headers=admin)
    assert review.status_code == 200, review.get_json()
    assert review.get_json()["stage"] == "grid_review"
    with app.extensions["fieldapi.sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
    # Publishing the templates kept the audit trail whole.
    assert "audit trail intact" in flask(app, "audit", "verify").output


def test_upgrade_publishes_the_default_self_check_for_every_use_type(fresh_app):
    upgrade = flask(fresh_app, "db", "upgrade")

    assert f"published {len(USE_TYPES)} default templates" in upgrade.output

    assert templates(fresh_app) == {use_type: [1] for use_type in USE_TYPES}
    with fresh_app.extensions["fieldapi.sessionmaker"]() as session:
        for template in session.scalars(select(ChecklistTemplate)):
            assert template.name == DEFAULT_NAME
            assert template.created_by is None
            stored = [
                {
                    "code": item.code,
                    "label": {"zh": item.label_zh, "en": item.label_en},
                    "category": item.category,
                    "severity": item.severity,
                    "photo_required": item.photo_required,
                }
                for item in template.items
            ]
            assert stored == list(DEFAULT_ITEMS)


def test_upgrading_again_publishes_nothing_and_keeps_an_admins_version(fresh_app):
    app, client = fresh_app, fresh_app.test_client()
    flask(app, "db", "upgrade")
    flask(app, "create-admin", "chief", env={"FIELDAPI_ADMIN_PASSWORD": ADMIN_PASSWORD})
    admin = sign_in(client, "chief", ADMIN_PASSWORD)
    edited = {
        "use_type": "warehouse",
        "name": "仓库自查 Warehouse self-check",
        "items": [
            {
                "code": "WH-01",
                "label": {"zh": "货物堆放不挡住消防通道", "en": "Stock clear of the fire lanes"},
                "category": "evacuation",
                "severity": "major",
                "photo_required": False,
            }
        ],
    }
    version_two = created(client.post("/api/v1/templates", json=edited, headers=admin))
    assert version_two["version"] == 2

    again = flask(app, "db", "upgrade")
    reinstalled = flask(app, "fieldwork", "install-templates")

    assert "checklist templates present" in again.output
    assert "published 0 default templates" in reinstalled.output
    assert templates(app) == {
        use_type: [1, 2] if use_type == "warehouse" else [1] for use_type in USE_TYPES
    }
    current = client.get("/api/v1/templates?use_type=warehouse", headers=admin).get_json()
    assert [(t["version"], t["name"]) for t in current["items"]] == [(2, edited["name"])]
