"""Record every change the phones must hear of, in the transaction that makes it.

Flushes note which objects changed (``after_flush``, and ``do_orm_execute`` for UPDATE and
DELETE statements run on a session); just before commit the notes become ``sync_changes``
rows, numbered under the audit head's row lock, and the changed objects' stored documents
are written again (``documents``). The audit trail takes that lock for every
write and holds it to commit, so numbers are handed out in commit order: a reader that sees
change N committed has seen every change before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fieldapi.areas.models import Area
from fieldapi.audit.models import GENESIS, AuditHead
from fieldapi.buildings import files as building_files
from fieldapi.buildings.models import Building, Equipment, Resident, Shop, Unit
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.core.db import utcnow
from fieldapi.fieldwork.models import Hazard, Inspection, InspectionResult, Rectification
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review.models import Submission, SubmissionEvent
from fieldapi.sync import documents
from fieldapi.sync.models import SyncChange
from fieldapi.users.models import User, UserArea, UserBuilding

HEAD_ID = 1
_PENDING = "fieldapi.sync.pending"

# Entities kept per building: a building move is told to both grids for each of them.
BUILDING_CHILDREN = {
    "inspections": Inspection,
    "hazards": Hazard,
    "rectifications": Rectification,
    "submissions": Submission,
}
SUBJECT_ENTITY = {"inspection": "inspections", "hazard": "hazards"}
SUBJECT_ENTITY["rectification"] = "rectifications"
# Tables changed by UPDATE/DELETE statements rather than through objects.
_STATEMENT_TABLES = {
    "buildings": "buildings",
    "inspections": "inspections",
    "hazards": "hazards",
    "rectifications": "rectifications",
    "submissions": "submissions",
    "photos": "photos",
}


class _Pending:
    """What one transaction changed: (entity, id) → building, plus building moves."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, uuid.UUID], uuid.UUID | None] = {}
        self.by_parent: dict[tuple[str, type, uuid.UUID], None] = {}
        self.moves: dict[uuid.UUID, set[uuid.UUID]] = {}  # building → grids it left
        self.photos: set[uuid.UUID] = set()
        self.grids: dict[uuid.UUID, uuid.UUID] = {}  # buildings' grids known from objects

    def add(self, entity: str, object_id, building_id=None) -> None:
        if object_id is None:
            return
        key = (entity, object_id)
        if self.objects.get(key) is None:
            self.objects[key] = building_id

    def __bool__(self) -> bool:
        return bool(self.objects or self.by_parent or self.moves or self.photos)


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
    return pending


def _note(pending: _Pending, obj, *, deleted: bool) -> None:
    """Note one changed object as the entity the phones know it by."""
    match obj:
        case Building():
            pending.add("buildings", obj.id, obj.id)
            pending.grids[obj.id] = obj.grid_id
            if not deleted:
                old = inspect(obj).attrs.grid_id.history.deleted
                if old and old[0] is not None and old[0] != obj.grid_id:
                    pending.moves.setdefault(obj.id, set()).add(old[0])
        case Unit() | Shop() | Equipment():
            pending.add("buildings", obj.building_id, obj.building_id)
        case Resident():
            pending.by_parent[("buildings", Unit, obj.unit_id)] = None
        case Submission():
            pending.add("submissions", obj.id, obj.building_id)
            # Its subject shows the stage it is at: tell the subject too.
            pending.add(SUBJECT_ENTITY[obj.subject_type], obj.subject_id, obj.building_id)
        case Inspection() | Hazard() | Rectification():
            entity = _entity_of(type(obj))
            pending.add(entity, obj.id, obj.building_id)
        case InspectionResult():
            pending.by_parent[("inspections", Inspection, obj.inspection_id)] = None
        case SubmissionEvent():
            pending.by_parent[("submissions", Submission, obj.submission_id)] = None
        case ChecklistTemplate():
            pending.add("templates", obj.id)
        case ChecklistItem():
            pending.add("templates", obj.template_id)
        case Photo():
            pending.photos.add(obj.id)
        case PhotoUse():
            pending.add("photos", obj.photo_id, obj.building_id)
        case User() | Area():
            pending.add("scope", obj.id)
        case UserArea() | UserBuilding():
            pending.add("scope", obj.user_id)


def _entity_of(model: type) -> str:
    for entity, candidate in BUILDING_CHILDREN.items():
        if candidate is model:
            return entity
    raise KeyError(model)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    pending = _pending(session)
    for obj in session.new:
        _note(pending, obj, deleted=False)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            _note(pending, obj, deleted=False)
    for obj in session.deleted:
        _note(pending, obj, deleted=True)


@event.listens_for(Session, "do_orm_execute")
def _statement(state) -> None:
    """UPDATE and DELETE statements: note the rows they are about to touch."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    entity = _STATEMENT_TABLES.get(getattr(table, "name", None))
    if entity is None:
        return
    where = state.statement.whereclause
    if entity == "photos":
        stmt = select(table.c.id)
    else:
        building = table.c.id if entity == "buildings" else table.c.building_id
        stmt = select(table.c.id, building)
    if where is not None:
        stmt = stmt.where(where)
    pending = _pending(state.session)
    with state.session.no_autoflush:
        for row in state.session.execute(stmt):
            if entity == "photos":
                pending.photos.add(row[0])
            else:
                pending.add(entity, row[0], row[1])


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if pending:
        write_changes(session, pending)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    """A transaction rolled back tells nothing. A savepoint rolled back keeps what was noted,
    before it and in it: what it undid is told as changed all the same, and a phone that
    reads it again finds it as it is (or gone)."""
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def _resolve_parents(session: Session, pending: _Pending) -> None:
    """Objects noted by a child row (a result, an event, a resident): find the parent."""
    wanted: dict[tuple[str, type], list[uuid.UUID]] = {}
    for entity, model, parent_id in pending.by_parent:
        wanted.setdefault((entity, model), []).append(parent_id)
    for (entity, model), ids in wanted.items():
        if model is Submission:
            rows = session.execute(
                select(Submission.subject_type, Submission.subject_id, Submission.building_id)
                .add_columns(Submission.id)
                .where(Submission.id.in_(ids))
            )
            for subject_type, subject_id, building_id, submission_id in rows:
                pending.add("submissions", submission_id, building_id)
                pending.add(SUBJECT_ENTITY[subject_type], subject_id, building_id)
            continue
        if model is Unit:
            rows = session.execute(
                select(Unit.building_id, Unit.building_id).where(Unit.id.in_(ids))
            )
        else:
            rows = session.execute(select(model.id, model.building_id).where(model.id.in_(ids)))
        for object_id, building_id in rows:
            pending.add(entity, object_id, building_id)


def _resolve_photos(session: Session, pending: _Pending) -> None:
    """A photo is told to the buildings it is used in; an unused photo concerns nobody yet."""
    if not pending.photos:
        return
    uses = select(PhotoUse.photo_id, PhotoUse.building_id).where(
        PhotoUse.photo_id.in_(pending.photos)
    )
    for photo_id, building_id in session.execute(uses):
        pending.add("photos", photo_id, building_id)


def _fan_out_moves(session: Session, pending: _Pending) -> list[dict]:
    """A moved building takes everything kept under it along: each grid hears of each."""
    rows: list[dict] = []
    for building_id, old_grids in pending.moves.items():
        children: list[tuple[str, uuid.UUID]] = [("buildings", building_id)]
        for entity, model in BUILDING_CHILDREN.items():
            ids = session.scalars(select(model.id).where(model.building_id == building_id))
            children.extend((entity, object_id) for object_id in ids)
        photos = session.scalars(
            select(PhotoUse.photo_id).where(PhotoUse.building_id == building_id).distinct()
        )
        children.extend(("photos", photo_id) for photo_id in photos)
        for entity, object_id in children:
            for grid_id in old_grids:
                rows.append(_row(entity, object_id, building_id, grid_id))
            if entity != "buildings":
                pending.add(entity, object_id, building_id)
    return rows


def _row(entity: str, object_id, building_id, grid_id) -> dict:
    return {
        "entity": entity,
        "object_id": object_id,
        "building_id": building_id,
        "grid_id": grid_id,
    }


def _grids_of(session: Session, building_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    ids = list(set(building_ids))
    grids: dict[uuid.UUID, uuid.UUID] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(select(Building.id, Building.grid_id).where(Building.id.in_(chunk)))
        grids.update((building_id, grid_id) for building_id, grid_id in rows)
    return grids


def _take_numbers(session: Session) -> int:
    """Lock the audit head (creating it on first use) and return the last change number."""
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        builder(AuditHead).values(id=HEAD_ID, seq=0, hash=GENESIS).on_conflict_do_nothing()
    )
    session.execute(select(AuditHead.id).where(AuditHead.id == HEAD_ID).with_for_update())
    return session.scalar(select(func.coalesce(func.max(SyncChange.seq), 0)))


def write_changes(session: Session, pending: _Pending) -> None:
    """Turn one transaction's notes into numbered change rows."""
    with session.no_autoflush:
        _resolve_parents(session, pending)
        _resolve_photos(session, pending)
        rows = _fan_out_moves(session, pending)
        buildings = {b for b in pending.objects.values() if b is not None}
        grids = {**pending.grids, **_grids_of(session, buildings - set(pending.grids))}
        for (entity, object_id), building_id in pending.objects.items():
            if entity == "photos" and building_id is None:
                continue
            rows.append(_row(entity, object_id, building_id, grids.get(building_id)))
        if not rows:
            return
        last = _take_numbers(session)
        # Under the head lock, so in commit order: each document is built from what the
        # transactions before this one committed.
        documents.write(session, pending.objects)
        building_files.write(session, (i for e, i in pending.objects if e == "buildings"))
        now = utcnow()
        for number, row in enumerate(rows, start=last + 1):
            row["seq"] = number
            row["at"] = now
        session.execute(insert(SyncChange), rows)
