"""Sync: a grid's full copy, an empty delta and a delta after 50 changes, on PostgreSQL.

Run by hand from the repository root (never part of the test suite):

    .venv/bin/python -m bench.sync [--buildings 2000] [--inspections 20000] [--runs 5]

A fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust; ``FIELDAPI_BENCH_PG_URL``
to point elsewhere) is migrated, seeded and dropped at the end. One grid holds the buildings
(a unit with two residents, a shop and some equipment each), the inspections spread over a
year (nine in ten pass every item; the rest fail one to three items, each a hazard; some
hazards rectified), and a submission for every submitted inspection at a realistic stage with
its history (submit, approvals, now and then a return and a resubmission). Rows are written
in bulk, as history: the change log starts empty, as on a server that just got the sync
migration.

The API runs in this process and is called through Flask's test client, so the times are
server time: routing, the sign-in check, the queries, JSON, gzip. Reported, median of
``--runs``:

- full copy by the grid's grid_staff user, limit 5000: pages, server ms over all pages,
  bytes before and after gzip;
- an empty delta (p50 and p95 of 200 calls);
- a delta after 50 changes (decisions, building edits, new hazards' rectification notes)
  made through the ORM, as the API makes them: server ms, bytes.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.services import PG_ADMIN_URL, postgres_database

PG_URL = os.environ.get("FIELDAPI_BENCH_PG_URL", PG_ADMIN_URL)
PASSWORD = "bench password 1"


def make_app(database_url: str, data_dir: str):
    from fieldapi import create_app
    from fieldapi.config import Settings
    from fieldapi.core import migrate

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        storage_url=f"file://{data_dir}/blobs",
        s3_endpoint_url=None,
        s3_region=None,
        secret_key="bench-secret-" + "x" * 40,
        public_url=None,
        redis_url=None,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    app = create_app(settings)
    migrate.upgrade(app.extensions["fieldapi.engine"])
    return app


def _t(base: datetime, rng: random.Random, days: float) -> datetime:
    return base + timedelta(seconds=rng.uniform(0, days * 86400))


def seed(app, n_buildings: int, n_inspections: int, photos: bool = False) -> dict:
    """One grid, its staff, buildings and a year of field work, written in bulk. With
    ``photos``, every item that must be photographed carries a verified photo (a submit
    without them is refused), and so does every hazard found and every rectification."""
    from fieldapi.areas.service import create_area
    from fieldapi.buildings.models import Building, Equipment, Resident, Shop, Unit
    from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
    from fieldapi.fieldwork.models import Hazard, Inspection, InspectionResult, Rectification
    from fieldapi.photos.models import Photo, PhotoUse
    from fieldapi.review.models import Submission, SubmissionEvent
    from fieldapi.users.service import create_user

    rng = random.Random(7)
    passwords = app.extensions["fieldapi.passwords"]
    db = app.extensions["fieldapi.sessionmaker"]()
    ids: dict = {}
    parent = None
    for name, kind in (("Futian", "district"), ("Shahe", "street"), ("Shuiwei", "community")):
        parent = create_area(
            db=db,
            data={"name": name, "kind": kind, "parent_id": parent, "code": None, "boundary": None},
        ).id
    grid = create_area(
        db=db,
        data={"name": "G1", "kind": "grid", "parent_id": parent, "code": None, "boundary": None},
    ).id
    users = {}
    for username, role, areas in (
        ("gw1", "grid_staff", [grid]),
        ("mgr1", "building_manager", []),
        ("office1", "fire_office", [parent]),
        ("police1", "fire_police", [parent]),
    ):
        users[username] = create_user(
            db=db,
            passwords=passwords,
            data={
                "username": username,
                "password": PASSWORD,
                "role": role,
                "active": True,
                "area_ids": areas,
                "building_ids": [],
            },
        ).id
    templates = {t.use_type: t.id for t in ensure_defaults(db)}
    db.commit()
    codes = [item["code"] for item in DEFAULT_ITEMS]
    severity = {item["code"]: item["severity"] for item in DEFAULT_ITEMS}
    category = {item["code"]: item["category"] for item in DEFAULT_ITEMS}
    photographed = {item["code"] for item in DEFAULT_ITEMS if item["photo_required"]}
    photo_rows, photo_uses = [], []

    def use(pid, who, building, subject_type, subject_id, at: datetime) -> None:
        photo_uses.append(
            {
                "id": uuid.uuid4(),
                "photo_id": pid,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "building_id": building["id"],
                "attached_by": who,
                "attached_at": at,
                "flags": [],
                "flag_details": {},
            }
        )

    def photo(who, building, subject_type, subject_id, at: datetime, lat, lon) -> str:
        pid = uuid.uuid4()
        photo_rows.append(
            {
                "id": pid,
                "uploader_id": who,
                "sha256": uuid.uuid4().hex + uuid.uuid4().hex,
                "size": rng.randint(1_500_000, 4_500_000),
                "content_type": "image/jpeg",
                "status": "verified",
                "upload_expires_at": at + timedelta(minutes=15),
                "format": "JPEG",
                "width": 4000,
                "height": 3000,
                "captured_at": at - timedelta(seconds=rng.randint(30, 1800)),
                "lat": round(lat + rng.uniform(-1e-4, 1e-4), 6),
                "lon": round(lon + rng.uniform(-1e-4, 1e-4), 6),
                "device": "Phone",
                "phash": f"{rng.getrandbits(64):016x}",
                "created_at": at,
                "verified_at": at + timedelta(seconds=5),
            }
        )
        use(pid, who, building, subject_type, subject_id, at)
        return str(pid)

    start = datetime(2025, 12, 1, tzinfo=UTC)
    now = datetime.now(UTC)

    buildings, units, residents, shops, equipment = [], [], [], [], []
    for i in range(n_buildings):
        bid = uuid.uuid4()
        buildings.append(
            {
                "id": bid,
                "code": f"FT-SW-{i:05d}",
                "name": f"Shuiwei Building {i}",
                "address": f"{i} Shuiwei Road, Futian",
                "grid_id": grid,
                "lat": round(22.52 + rng.random() / 100, 6),
                "lon": round(114.06 + rng.random() / 100, 6),
                "use_type": "residential" if i % 5 else "rental",
                "floors_above": rng.randint(2, 30),
                "floors_below": rng.randint(0, 2),
                "responsibility": {
                    "owner": {"name": f"Owner {i}", "phone": f"138{rng.randint(0, 10**8):08d}"}
                },
                "self_check_interval_days": 30,
                "next_self_check_due_at": _t(now, rng, 30),
                "last_inspected_at": _t(start, rng, 300),
                "risk_level": "low",
                "version": 1,
                "created_at": start,
                "updated_at": start,
            }
        )
        uid = uuid.uuid4()
        units.append({"id": uid, "building_id": bid, "label": "101", "floor": 1})
        for k in range(2):
            residents.append(
                {
                    "id": uuid.uuid4(),
                    "unit_id": uid,
                    "name": f"Resident {i}-{k}",
                    "id_number": f"4403{rng.randint(0, 10**13):013d}X",
                    "phone": f"139{rng.randint(0, 10**8):08d}",
                    "kind": "permanent" if k else "floating",
                    "is_tenant": bool(k),
                }
            )
        shops.append(
            {
                "id": uuid.uuid4(),
                "building_id": bid,
                "name": f"Shop {i}",
                "business_type": "grocery",
                "floor": 1,
            }
        )
        equipment.append(
            {
                "id": uuid.uuid4(),
                "building_id": bid,
                "kind": "extinguisher",
                "count": rng.randint(2, 12),
                "location": "stairwell",
            }
        )

    inspections, results, hazards, rectifications, submissions, events = [], [], [], [], [], []
    for n in range(n_inspections):
        building = buildings[n % n_buildings]
        iid = uuid.uuid4()
        performed = _t(start, rng, 360)
        draft = rng.random() < 0.03
        failing = rng.sample(codes, rng.randint(1, 3)) if rng.random() < 0.1 else []
        inspector = users["mgr1"] if n % 3 else users["gw1"]
        lat = round(building["lat"] + rng.uniform(-1e-4, 1e-4), 6)
        lon = round(building["lon"] + rng.uniform(-1e-4, 1e-4), 6)
        shots = {
            code: [photo(inspector, building, "inspection", iid, performed, lat, lon)]
            for code in codes
            if photos and not draft and code in photographed
        }
        inspections.append(
            {
                "id": iid,
                "building_id": building["id"],
                "kind": "self_check" if n % 3 else "patrol",
                "template_id": templates[building["use_type"]],
                "inspector_id": inspector,
                "performed_at": performed,
                "lat": lat,
                "lon": lon,
                "status": "draft" if draft else "submitted",
                "submitted_at": None if draft else performed + timedelta(minutes=10),
                "version": 1 if draft else 2,
                "findings": [
                    {
                        "code": code,
                        "result": "fail" if code in failing else "pass",
                        **({"note": f"{code}: found failing on site"} if code in failing else {}),
                        **({"photo_ids": shots[code]} if code in shots else {}),
                    }
                    for code in codes
                    if code in failing or code in shots
                ],
                "unchecked": [],
                "created_at": performed,
                "updated_at": performed,
            }
        )
        for position, code in enumerate(codes):
            failed = code in failing
            results.append(
                {
                    "inspection_id": iid,
                    "position": position,
                    "code": code,
                    "result": "fail" if failed else "pass",
                    "note": f"{code}: found failing on site" if failed else None,
                    "photo_ids": shots.get(code, []),
                }
            )
        if draft:
            continue
        submitted = performed + timedelta(minutes=10)
        for code in failing:
            hid = uuid.uuid4()
            for pid in shots.get(code, []):
                use(uuid.UUID(pid), users["gw1"], building, "hazard", hid, submitted)
            closed = rng.random() < 0.6
            hazards.append(
                {
                    "id": hid,
                    "building_id": building["id"],
                    "source": "inspection",
                    "inspection_id": iid,
                    "item_code": code,
                    "category": category[code],
                    "severity": severity[code],
                    "description": f"{code}: found failing on site",
                    "photo_ids": shots.get(code, []),
                    "reported_by": users["gw1"],
                    "reported_at": submitted,
                    "due_at": submitted + timedelta(days=14),
                    "status": "closed" if closed else "open",
                    "closed_at": submitted + timedelta(days=7) if closed else None,
                    "version": 1,
                    "created_at": submitted,
                    "updated_at": submitted,
                }
            )
            if closed:
                rid = uuid.uuid4()
                fixed = submitted + timedelta(days=5)
                after = (
                    [photo(users["mgr1"], building, "rectification", rid, fixed, lat, lon)]
                    if photos
                    else []
                )
                rectifications.append(
                    {
                        "id": rid,
                        "hazard_id": hid,
                        "building_id": building["id"],
                        "note": "Replaced and checked",
                        "photo_ids": after,
                        "submitted_by": users["mgr1"],
                        "status": "submitted",
                        "version": 1,
                        "created_at": submitted + timedelta(days=5),
                        "updated_at": submitted + timedelta(days=5),
                    }
                )
        route = ["grid_review", "office_review", "police_review"] if failing else ["grid_review"]
        sid = uuid.uuid4()
        history = [("submit", None, "grid_review", users["mgr1"], submitted, None)]
        at = submitted
        stage = "grid_review"
        roll = rng.random()
        if roll < 0.08:
            at += timedelta(hours=rng.uniform(1, 48))
            history.append(("return", stage, "returned", users["gw1"], at, "Photo unclear"))
            at += timedelta(hours=rng.uniform(1, 48))
            history.append(("resubmit", "returned", "grid_review", users["mgr1"], at, None))
        target = len(route) if roll < 0.85 else rng.randint(0, len(route) - 1)
        reviewers = {"grid_review": "gw1", "office_review": "office1", "police_review": "police1"}
        for step in range(target):
            at += timedelta(hours=rng.uniform(1, 72))
            nxt = route[step + 1] if step + 1 < len(route) else "closed"
            history.append(("approve", route[step], nxt, users[reviewers[route[step]]], at, None))
            stage = nxt
        submissions.append(
            {
                "id": sid,
                "subject_type": "inspection",
                "subject_id": iid,
                "building_id": building["id"],
                "submitter_id": users["mgr1"],
                "stage": stage,
                "route": route,
                "escalated": False,
                "submitted_at": submitted,
                "stage_entered_at": at,
                "stage_due_at": None if stage == "closed" else at + timedelta(hours=72),
                "closed_at": at if stage == "closed" else None,
                "version": len(history),
                "created_at": submitted,
                "updated_at": at,
            }
        )
        for seq, (decision, from_stage, to_stage, actor, when, reason) in enumerate(history, 1):
            events.append(
                {
                    "id": uuid.uuid4(),
                    "submission_id": sid,
                    "seq": seq,
                    "decision": decision,
                    "from_stage": from_stage,
                    "to_stage": to_stage,
                    "actor_id": actor,
                    "actor_role": "grid_staff",
                    "reason": reason,
                    "items": [],
                    "version": seq,
                    "at": when,
                }
            )

    table_rows = (
        (Building, buildings),
        (Photo, photo_rows),
        (PhotoUse, photo_uses),
        (Unit, units),
        (Resident, residents),
        (Shop, shops),
        (Equipment, equipment),
        (Inspection, inspections),
        (InspectionResult, results),
        (Hazard, hazards),
        (Rectification, rectifications),
        (Submission, submissions),
        (SubmissionEvent, events),
    )
    with app.extensions["fieldapi.engine"].begin() as conn:
        for model, rows in table_rows:
            for chunk in range(0, len(rows), 5000):
                conn.execute(insert(model.__table__), rows[chunk : chunk + 5000])
    # Rows written without the application: their sync documents are built as
    # `flask db upgrade` builds missing ones.
    from fieldapi.sync import documents

    with app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        documents.fill(session)
    with app.extensions["fieldapi.engine"].begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    ids.update(
        users=users,
        grid=grid,
        buildings=[b["id"] for b in buildings],
        submissions=submissions,
        hazards=hazards,
        counts={name.__tablename__: len(rows) for name, rows in table_rows},
    )
    db.close()
    return ids


def sign_in(client, username: str) -> dict:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {
        "Authorization": f"Bearer {response.get_json()['access_token']}",
        "Accept-Encoding": "gzip",
    }


def pull(client, headers, cursor=None, limit=5000) -> tuple[float, int, int, int, str]:
    """Pull until drained: server seconds, pages, bytes raw, bytes gzip, the cursor."""
    import orjson

    seconds = raw = packed = pages = 0
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        began = time.perf_counter()
        response = client.get("/api/v1/sync", query_string=params, headers=headers)
        seconds += time.perf_counter() - began
        assert response.status_code == 200, response.data[:300]
        data = response.data
        packed += len(data)
        if response.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        raw += len(data)
        pages += 1
        page = orjson.loads(data)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return seconds, pages, raw, packed, cursor


def fifty_changes(app, ids: dict, rng: random.Random) -> None:
    """50 committed changes as the services make them: edits of buildings and hazards,
    submissions moved on with a history event each."""
    from fieldapi.buildings.models import Building
    from fieldapi.fieldwork.models import Hazard
    from fieldapi.review.models import Submission, SubmissionEvent

    maker = app.extensions["fieldapi.sessionmaker"]
    for n in range(50):
        with maker() as db:
            if n % 3 == 0:
                building = db.get(Building, rng.choice(ids["buildings"]))
                building.notes = f"checked again {n}"
            elif n % 3 == 1 and ids["hazards"]:
                hazard = db.get(Hazard, rng.choice(ids["hazards"])["id"])
                hazard.description = f"{hazard.description} (seen again)"
            else:
                submission = db.get(Submission, rng.choice(ids["submissions"])["id"])
                submission.stage_due_at = datetime.now(UTC) + timedelta(hours=72)
                db.add(
                    SubmissionEvent(
                        submission_id=submission.id,
                        seq=len(submission.events) + 1,
                        decision="reopen",
                        from_stage=submission.stage,
                        to_stage=submission.stage,
                        actor_id=ids["users"]["police1"],
                        actor_role="fire_police",
                        version=submission.version,
                    )
                )
            db.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--inspections", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument(
        "--photos",
        action="store_true",
        help="a verified photo on every item that must be photographed, hazard and repair",
    )
    args = parser.parse_args()

    with postgres_database(PG_URL) as url, tempfile.TemporaryDirectory() as data_dir:
        app = make_app(url, data_dir)
        began = time.perf_counter()
        ids = seed(app, args.buildings, args.inspections, photos=args.photos)
        print(f"seeded in {time.perf_counter() - began:.1f} s: {ids['counts']}")
        # The seed's own objects stay in this process; a server worker would not hold them.
        # Keep the collector from walking them on every collection during the runs.
        gc.collect()
        gc.freeze()
        client = app.test_client()
        headers = sign_in(client, "gw1")

        # Alternating: stored documents, then every document built on read (no stored one
        # has the shape asked for), so that load from elsewhere falls on both alike.
        from fieldapi.sync.models import SyncDocument

        full, on_read = [], []
        for _ in range(args.runs):
            full.append(pull(client, headers, limit=args.limit))
            shape, SyncDocument.SHAPE = SyncDocument.SHAPE, -1
            try:
                on_read.append(pull(client, headers, limit=args.limit))
            finally:
                SyncDocument.SHAPE = shape
        for label, runs in (("full copy     ", full), ("  built on read", on_read)):
            seconds = statistics.median(f[0] for f in runs)
            _s, pages, raw, packed, cursor = runs[-1]
            print(
                f"{label}: {pages} pages, server {seconds * 1000:.0f} ms (median of "
                f"{args.runs}; runs {', '.join(f'{f[0] * 1000:.0f}' for f in runs)}), "
                f"{raw / 1e6:.2f} MB raw, {packed / 1e6:.2f} MB gzip"
            )
        cursor = full[-1][4]

        empty = []
        for _ in range(200):
            began = time.perf_counter()
            response = client.get("/api/v1/sync", query_string={"cursor": cursor}, headers=headers)
            empty.append(time.perf_counter() - began)
            assert response.status_code == 200
        empty.sort()
        print(
            f"empty delta   : p50 {statistics.median(empty) * 1000:.1f} ms, "
            f"p95 {empty[int(len(empty) * 0.95)] * 1000:.1f} ms, {len(response.data)} bytes"
        )

        rng = random.Random(11)
        deltas = []
        for _ in range(args.runs):
            fifty_changes(app, ids, rng)
            deltas.append(pull(client, headers, cursor=cursor, limit=args.limit))
            cursor = deltas[-1][4]
        seconds = statistics.median(d[0] for d in deltas)
        _s, pages, raw, packed, _c = deltas[-1]
        print(
            f"50-change delta: {pages} page(s), server {seconds * 1000:.1f} ms (median of "
            f"{args.runs}), {raw / 1e3:.1f} kB raw, {packed / 1e3:.1f} kB gzip"
        )
        app.extensions["fieldapi.engine"].dispose()


if __name__ == "__main__":
    main()
