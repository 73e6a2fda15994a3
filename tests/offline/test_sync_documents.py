"""The sync documents PostgreSQL keeps: written with every change, read by full copies, and
built on read when one is missing or of another shape (``fieldapi.sync.documents``)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from fieldapi.buildings.models import Building
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.review.models import Submission
from fieldapi.sync import documents
from fieldapi.sync.models import SyncDocument
from tests.offline.test_sync import Phone

STORED_MODELS = {
    "buildings": Building,
    "buildings.whole": Building,
    "inspections": Inspection,
    "hazards": Hazard,
    "rectifications": Rectification,
    "submissions": Submission,
}


@pytest.fixture(autouse=True)
def _postgresql_only(backend):
    if backend != "server":
        pytest.skip("documents are kept on PostgreSQL only; SQLite builds them on read")


def _busy_day(field) -> dict:
    """Field work that touches every stored entity: submissions at each stage, a return and
    a resubmission, failed items, a reported hazard and its rectification."""
    clean = field.submitted("mgr1", "B1")
    field.approve_all(clean["submission_id"])
    failed = field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01", "EVAC-01"])
    returned = field.submitted("mgr1", "B1")["submission_id"]
    assert field.decide("gw1", returned, "return", reason="Photo unclear").status_code == 200
    assert field.resubmit("mgr1", returned).status_code == 200
    hazard = field.report("officer1", "B1").get_json()
    rectified = field.rectify("mgr1", hazard["id"])
    assert rectified.status_code == 201, rectified.get_json()
    assert field.decide("gw1", rectified.get_json()["submission_id"], "approve").status_code == 200
    return {"failed": failed, "hazard": hazard, "rectification": rectified.get_json()["id"]}


def _counts(db) -> tuple[dict, dict]:
    objects = {
        name: db.scalar(select(func.count()).select_from(model))
        for name, model in STORED_MODELS.items()
    }
    kept = dict(
        db.execute(select(SyncDocument.entity, func.count()).group_by(SyncDocument.entity)).all()
    )
    return objects, kept


def test_every_change_writes_its_objects_documents(field, app):
    _busy_day(field)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        objects, kept = _counts(db)
        assert all(objects.values()), objects
        assert kept == objects
        assert documents.stale(db) == []


def test_a_decision_rewrites_the_subjects_document_too(field, app):
    """The subject's document shows its submission's stage: a decision changes both."""
    answer = field.submitted("mgr1", "B1")
    with app.extensions["fieldapi.sessionmaker"]() as db:
        subject = db.scalar(
            select(Submission.subject_id).where(Submission.id == answer["submission_id"])
        )

        def stored() -> str:
            return db.scalar(
                select(SyncDocument.doc).where(
                    SyncDocument.entity == "inspections", SyncDocument.object_id == subject
                )
            )

        assert '"stage":"grid_review"' in stored()
        db.rollback()
        assert field.decide("gw1", answer["submission_id"], "approve").status_code == 200
        assert '"stage":"closed"' in stored()
        assert documents.stale(db) == []


def test_stored_copy_equals_the_copy_built_on_read(field, app, client, as_user, monkeypatch):
    _busy_day(field)
    stored = Phone(client, as_user("officer1"))
    stored.pull(limit=7)
    monkeypatch.setattr(SyncDocument, "SHAPE", SyncDocument.SHAPE + 1)  # none matches now
    on_read = Phone(client, as_user("officer1"))
    on_read.pull(limit=7)
    assert stored.objects == on_read.objects
    assert len(stored.objects["inspections"]) >= 3
    # And the copy does read what is kept: a kept document, altered, is what is sent.
    monkeypatch.undo()
    inspection_id = next(iter(stored.objects["inspections"]))
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(
            update(SyncDocument)
            .where(SyncDocument.entity == "inspections", SyncDocument.object_id == inspection_id)
            .values(doc=func.replace(SyncDocument.doc, '"note":null', '"note":"kept"'))
        )
        db.commit()
    again = Phone(client, as_user("officer1"))
    again.pull(limit=7)
    assert again.objects["inspections"][inspection_id]["note"] == "kept"


def test_missing_or_outdated_documents_are_built_on_read_and_by_the_command(
    field, app, client, as_user
):
    day = _busy_day(field)
    reference = Phone(client, as_user("officer1"))
    reference.pull()
    with app.extensions["fieldapi.sessionmaker"]() as db:
        inspection_id = db.scalar(
            select(Submission.subject_id).where(Submission.id == day["failed"]["submission_id"])
        )
        hazard_id = day["hazard"]["id"]
        db.execute(
            delete(SyncDocument).where(
                SyncDocument.entity == "inspections", SyncDocument.object_id == inspection_id
            )
        )
        db.execute(
            update(SyncDocument)
            .where(SyncDocument.entity == "hazards", SyncDocument.object_id == hazard_id)
            .values(shape=SyncDocument.SHAPE - 1, doc='{"id":"of an older shape"}')
        )
        db.commit()
        assert sorted(documents.stale(db)) == sorted(
            [("inspections", str(inspection_id)), ("hazards", hazard_id)]
        )

    again = Phone(client, as_user("officer1"))
    again.pull(limit=5)
    assert again.objects == reference.objects

    # A row removed behind the application's back leaves its document behind.
    rectification_id = str(day["rectification"])
    with app.extensions["fieldapi.engine"].begin() as conn:
        conn.execute(delete(Rectification).where(Rectification.id == rectification_id))

    runner = app.test_cli_runner()
    checked = runner.invoke(args=["sync", "documents", "--check"])
    assert checked.exit_code == 1, checked.output
    assert f"inspections {inspection_id}" in checked.output
    built = runner.invoke(args=["sync", "documents"])
    assert built.exit_code == 0, built.output
    assert "1 inspections" in built.output
    assert "1 hazards" in built.output
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert not db.scalar(
            select(func.count())
            .select_from(SyncDocument)
            .where(SyncDocument.object_id == rectification_id)
        )
    assert runner.invoke(args=["sync", "documents", "--check"]).exit_code == 0
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert documents.stale(db) == []


def test_documents_go_with_their_building(field, app, world):
    _busy_day(field)
    building_id = world.buildings["B1"]
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert db.scalar(
            select(func.count())
            .select_from(SyncDocument)
            .where(SyncDocument.building_id == building_id)
        )
        db.execute(delete(Building).where(Building.id == building_id))
        db.commit()
        assert not db.scalar(
            select(func.count())
            .select_from(SyncDocument)
            .where(SyncDocument.building_id == building_id)
        )
        assert documents.stale(db) == []


def test_rebuild_builds_every_document_again(field, app):
    _busy_day(field)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(update(SyncDocument).values(doc="{}"))
        db.commit()
        assert len(documents.stale(db)) == sum(_counts(db)[0].values())
        db.rollback()
    built = app.test_cli_runner().invoke(args=["sync", "documents", "--rebuild"])
    assert built.exit_code == 0, built.output
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert documents.stale(db) == []


def test_db_upgrade_builds_the_missing_documents(field, app):
    """Rows that came in without the application (a restore, a bulk load) get their
    documents from the operator's usual upgrade command."""
    _busy_day(field)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(delete(SyncDocument).where(SyncDocument.entity == "submissions"))
        db.commit()
        missing = _counts(db)[0]["submissions"]
        assert len(documents.stale(db)) == missing
    upgraded = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"{missing} submissions" in upgraded.output
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert documents.stale(db) == []
