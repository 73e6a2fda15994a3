"""Demo field work: self-checks, patrols, hazards and rectifications at every review stage.

Everything goes through the services the API uses, as the people of the demo district would
do it from their phones: photos are real JPEGs taken at the building (EXIF time and GPS),
uploaded, verified and attached; decisions are taken by the account whose stage it is.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from datetime import datetime, timedelta

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.checklists.defaults import DEFAULT_ITEMS
from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.hazards import report_hazard
from fieldapi.fieldwork.inspection_submission import submit_inspection
from fieldapi.fieldwork.inspections import open_inspection
from fieldapi.fieldwork.models import Hazard
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.rectifications import rectify
from fieldapi.fieldwork.risk import refresh_risk
from fieldapi.photos import uploads, verification
from fieldapi.review import service as review
from fieldapi.review.present import submission_etag
from fieldapi.users.models import User
from storage import BlobStore

PHOTO_SIZE = (480, 360)


def _dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = round((degrees - whole - minutes / 60) * 3600 * 1000)
    return IFDRational(whole, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


def snapshot(rng: random.Random, lat: float, lon: float, taken: datetime) -> bytes:
    """A small JPEG as a phone camera writes it: a scene, capture time and GPS in EXIF."""
    colours = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(6)]
    img = Image.new("RGB", PHOTO_SIZE, colours[0])
    draw = ImageDraw.Draw(img)
    for colour in colours[1:]:
        x, y = rng.randrange(PHOTO_SIZE[0]), rng.randrange(PHOTO_SIZE[1])
        box = (x, y, x + rng.randrange(60, 240), y + rng.randrange(40, 180))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "Mate 60"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
        "%Y:%m:%d %H:%M:%S"
    )
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, exif=exif.tobytes())
    return out.getvalue()


class FieldDay:
    """The district's field work so far, made through the services."""

    def __init__(self, session: Session, blobs: BlobStore, policy: Policy) -> None:
        self.db = session
        self.blobs = blobs
        self.policy = policy
        self.rng = random.Random(20261123)  # noqa: S311 (demo scenes, not secrets)
        self.now = utcnow()
        users = session.scalars(select(User))
        self.people = {
            u.username: Actor(user_id=u.id, username=u.username, role=u.role) for u in users
        }

    def photo(self, who: str, building: Building) -> uuid.UUID:
        actor = self.people[who]
        taken = self.now - timedelta(minutes=self.rng.randint(20, 90))
        lat = building.lat + self.rng.uniform(-0.0002, 0.0002)
        lon = building.lon + self.rng.uniform(-0.0002, 0.0002)
        data = snapshot(self.rng, lat, lon, taken)
        slot = uploads.request_slot(
            db=self.db,
            blobs=self.blobs,
            actor=actor,
            data={
                "id": uuid.uuid4(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "content_type": "image/jpeg",
            },
            slot_minutes=15,
            max_size=len(data),
        )
        self.blobs.put(slot.photo.original_key, data, content_type="image/jpeg")
        verification.verify_stored(
            db=self.db, blobs=self.blobs, photo=slot.photo, stored_size=len(data)
        )
        return slot.photo.id

    def inspect(self, who: str, building: Building, kind: str, failed: dict[str, str]):
        """Check every default item (a note on each failed one) and submit; the submission."""
        items = []
        for item in DEFAULT_ITEMS:
            code = item["code"]
            result = {"code": code, "result": "fail" if code in failed else "pass"}
            if code in failed:
                result["note"] = failed[code]
            if item["photo_required"]:
                result["photo_ids"] = [self.photo(who, building)]
            items.append(result)
        data = {
            "id": uuid.uuid4(),
            "building_id": building.id,
            "kind": kind,
            "performed_at": self.now - timedelta(minutes=15),
            "location": {"lat": building.lat, "lon": building.lon},
            "note": None,
            "items": items,
        }
        inspection, _created = open_inspection(db=self.db, actor=self.people[who], data=data)
        outcome = submit_inspection(
            db=self.db, actor=self.people[who], inspection_id=inspection.id, policy=self.policy
        )
        return outcome.submission

    def decide(self, who: str, submission, decision: str, reason: str | None = None) -> None:
        review.decide(
            db=self.db,
            actor=self.people[who],
            submission_id=submission.id,
            decision=decision,
            reason=reason,
            items=[],
            if_match=submission_etag(submission),
            stage_hours=self.policy.stage_hours,
        )

    def hazards_of(self, submission) -> list[Hazard]:
        return list(
            self.db.scalars(
                select(Hazard)
                .where(Hazard.inspection_id == submission.subject_id)
                .order_by(Hazard.item_code)
            )
        )

    def age(self, hazard: Hazard, days: int) -> None:
        """Make a hazard as old as it would be had it been found ``days`` ago."""
        self.db.execute(
            update(Hazard)
            .where(Hazard.id == hazard.id)
            .values(
                reported_at=hazard.reported_at - timedelta(days=days),
                due_at=hazard.due_at - timedelta(days=days),
            )
        )
        self.db.expire_all()
        refresh_risk(self.db, hazard.building_id)


def seed_field_work(session: Session, *, blobs: BlobStore, policy: Policy) -> None:
    """Self-checks, patrols and hazards at each stage, on the files of the demo district."""
    day = FieldDay(session, blobs, policy)
    buildings = list(session.scalars(select(Building).order_by(Building.code)))
    managed, grid1, grid2 = buildings[:3], buildings[:12], buildings[12:24]

    # manager1's three buildings: one closed, one with hazards up the chain, one waiting.
    clean = day.inspect("manager1", managed[0], "self_check", {})
    day.decide("gridworker1", clean, "approve")

    found = day.inspect(
        "manager1",
        managed[1],
        "self_check",
        {
            "EBIKE-01": "三楼楼道有两辆电动车在充电 Two e-bikes charging on the 3rd floor landing",
            "LIGHT-01": "一楼应急灯不亮 Emergency light on the ground floor is out",
        },
    )
    day.decide("gridworker1", found, "approve")
    day.inspect("manager1", managed[2], "self_check", {})

    # The minor hazard is rectified and waits for grid review; the critical one is overdue.
    hazards = {h.item_code: h for h in day.hazards_of(found)}
    light = hazards["LIGHT-01"]
    rectify(
        db=session,
        actor=day.people["manager1"],
        hazard_id=light.id,
        data={
            "id": uuid.uuid4(),
            "note": "已更换应急灯电池 Emergency light battery replaced",
            "photo_ids": [day.photo("manager1", managed[1])],
        },
        policy=policy,
    )
    day.age(hazards["EBIKE-01"], 3)

    # Returned to the manager: the photo does not show the extinguisher's gauge.
    returned = day.inspect(
        "manager1",
        managed[0],
        "self_check",
        {"EXT-01": "一具灭火器压力不足 One extinguisher under pressure"},
    )
    day.decide(
        "gridworker1",
        returned,
        "return",
        "照片看不清压力表，请重拍 The gauge is not readable; photograph it again",
    )

    # officer1 on patrol: a gas hazard now at police review, an overdue wiring report.
    gas = day.inspect(
        "officer1",
        grid2[1],
        "patrol",
        {"GAS-01": "餐馆液化气瓶与灶具距离不足 LPG cylinder too close to the stove"},
    )
    day.decide("gridworker2", gas, "approve")
    day.decide("fireoffice1", gas, "approve")

    outcome, _created = report_hazard(
        db=session,
        actor=day.people["officer1"],
        data={
            "id": uuid.uuid4(),
            "building_id": grid2[4].id,
            "category": "electrical",
            "severity": "major",
            "description": "出租屋私拉电线给电动车充电 Wires run from a flat to charge e-bikes",
            "photo_ids": [day.photo("officer1", grid2[4])],
            "location": {"lat": grid2[4].lat, "lon": grid2[4].lon},
        },
        policy=policy,
    )
    day.age(outcome.subject, 9)

    # officer1's patrol of another grid 1 building, with nothing found, closed by grid staff.
    patrol = day.inspect("officer1", grid1[5], "patrol", {})
    day.decide("gridworker1", patrol, "approve")
    session.flush()
