"""The reference phone client against the real application, on both backends: a self-check
with photos from a phone that is restarted halfway, and the command line. The app is served
by a threaded loopback HTTP server; photo bytes go wherever the upload slot says (the
API's own content route on the embedded backend, a presigned POST to SeaweedFS on the
server one)."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from fieldapi.fieldwork.models import Hazard, Inspection
from fieldapi.photos.models import Photo
from fieldapi.review.models import Submission
from mobile_contract.client import Backoff, Phone
from mobile_contract.client.cli import main
from tests.e2e.day import photo_bytes


@pytest.fixture
def served(app, world):
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def make_phone(folder, url=None) -> Phone:
    return Phone(folder, url, backoff=Backoff(base=0.05, cap=0.5, rng=random.Random(5)))


def test_a_self_check_queued_offline_lands_after_a_restart(served, world, db, tmp_path):
    rng = random.Random(11)
    phone = make_phone(tmp_path, served)
    phone.sign_in("mgr1", world.password)
    items = []
    for item in DEFAULT_ITEMS:
        entry = {"code": item["code"], "result": "fail" if item["code"] == "EXT-01" else "pass"}
        if item["photo_required"]:
            entry["photo_ids"] = [phone.take_photo(photo_bytes(rng))]
        items.append(entry)
    inspection = phone.record_inspection(
        building_id=str(world.buildings["B1"]), kind="self_check", items=items
    )
    phone.submit_inspection(inspection)
    photo_ids = [p for entry in items for p in entry.get("photo_ids", [])]
    phone.close()  # the app is closed before anything was sent

    again = make_phone(tmp_path)
    assert len(again.outbox("pending")) == len(photo_ids) + 2
    report = again.flush()
    assert report.complete, report.stopped
    assert report.rejected == []
    submitted = again.outbox("done")[-1].answer
    assert submitted["status"] == "submitted"
    assert submitted["stage"] == "grid_review"
    assert len(submitted["hazard_ids"]) == 1
    # The photo files leave the phone once the server has verified them.
    assert not list((tmp_path / "photos").iterdir())

    stored = db.get(Inspection, uuid.UUID(inspection))
    assert stored.status == "submitted"
    statuses = db.scalars(select(Photo.status).where(Photo.id.in_(map(uuid.UUID, photo_ids))))
    assert list(statuses) == ["verified"] * len(photo_ids)
    submission = db.scalar(select(Submission).where(Submission.subject_id == stored.id))
    assert str(submission.id) == submitted["submission_id"]

    # The phone's copy of its area has the building and the inspection, as submitted; a
    # second pull from the stored cursor brings nothing new.
    pulled = again.sync(limit=3)
    assert pulled.pages > 1
    assert str(world.buildings["B1"]) in again.store.objects("buildings")
    assert again.store.get_object("inspections", inspection)["status"] == "submitted"
    assert again.store.setting("sync_cursor")
    assert again.sync().changes == 0

    # Flushing again sends nothing: everything was acknowledged.
    requests_before = again.api.counters.requests
    assert again.flush().acknowledged == []
    assert again.api.counters.requests == requests_before


def test_the_command_line_patrol_outbox_and_flush(served, world, db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FIELDAPI_PASSWORD", world.password)
    photos = tmp_path / "photos-taken"
    photos.mkdir()
    rng = random.Random(12)
    for n in range(9):
        (photos / f"IMG_{n:04}.jpg").write_bytes(photo_bytes(rng))
    phone_dir = str(tmp_path / "phone")
    building = str(world.buildings["B1"])
    base = ["--data-dir", phone_dir]

    assert main([*base, "patrol", "--server", served, "--user", "officer1",
                 "--building", building, "--photos", str(photos), "--fail", "LIGHT-01",
                 "--offline"]) == 0  # fmt: skip
    assert main([*base, "outbox"]) == 0
    listed = capsys.readouterr().out
    assert "signed in as officer1 (officer)" in listed
    assert "11 waiting to be sent" in listed  # nine photos, the inspection, its submit
    assert (
        db.scalar(select(Inspection).where(Inspection.building_id == world.buildings["B1"])) is None
    )

    assert main([*base, "flush"]) == 0
    assert "sent: 11, refused: 0" in capsys.readouterr().out
    assert main([*base, "outbox"]) == 0
    assert "0 waiting to be sent" in capsys.readouterr().out

    db.expire_all()
    (inspection,) = db.scalars(
        select(Inspection).where(Inspection.building_id == world.buildings["B1"])
    )
    assert (inspection.kind, inspection.status) == ("patrol", "submitted")
    (hazard,) = db.scalars(select(Hazard).where(Hazard.inspection_id == inspection.id))
    assert (hazard.item_code, hazard.severity) == ("LIGHT-01", "minor")

    assert main([*base, "logout"]) == 0
    assert main([*base, "flush"]) == 0  # nothing to send needs no session
