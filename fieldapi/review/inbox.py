"""What waits for the caller: reviews at their stage, returned work, self-checks and hazards due.

One query: a UNION of what waits, each row with when it is due, in the caller's scope,
oldest due first, paged by a keyset cursor over (due, kind, id).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Uuid, and_, func, literal, null, select, tuple_, union_all
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import UTCDateTime, utcnow
from fieldapi.core.pagination import decode_cursor, encode_cursor
from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard
from fieldapi.review.models import REVIEW_STAGES, STAGE_ROLE, Submission

KINDS = ("review", "returned", "self_check_due", "hazard_due")


def _row(kind: str, ref, submission_id, building_id, hazard_id, due_at, since, stage) -> list:
    no_id = null().cast(Uuid)
    no_time = null().cast(UTCDateTime)
    return [
        literal(kind).label("kind"),
        ref.label("ref_id"),
        (submission_id if submission_id is not None else no_id).label("submission_id"),
        building_id.label("building_id"),
        (hazard_id if hazard_id is not None else no_id).label("hazard_id"),
        (due_at if due_at is not None else no_time).label("due_at"),
        since.label("since"),
        (stage if stage is not None else null().cast(Submission.stage.type)).label("stage"),
    ]


def _parts(actor: Actor, now: datetime, notice_days: int) -> list[Select]:
    parts: list[Select] = []
    my_stages = [s for s in REVIEW_STAGES if STAGE_ROLE[s] == actor.role]
    if my_stages:
        parts.append(
            select(
                *_row(
                    "review",
                    Submission.id,
                    Submission.id,
                    Submission.building_id,
                    None,
                    Submission.stage_due_at,
                    Submission.stage_entered_at,
                    Submission.stage,
                )
            ).where(
                Submission.stage.in_(my_stages),
                Submission.submitter_id != actor.user_id,  # nobody reviews their own work
                scope.where(actor, Submission),
            )
        )
    parts.append(
        select(
            *_row(
                "returned",
                Submission.id,
                Submission.id,
                Submission.building_id,
                None,
                None,
                Submission.stage_entered_at,
                Submission.stage,
            )
        ).where(
            Submission.stage == "returned",
            Submission.submitter_id == actor.user_id,
            scope.where(actor, Submission),
        )
    )
    if actor.role in ("building_manager", "grid_staff"):
        # Managers hear of a self-check a few days ahead; grid staff once it is overdue.
        horizon = now + timedelta(days=notice_days) if actor.role == "building_manager" else now
        parts.append(
            select(
                *_row(
                    "self_check_due",
                    Building.id,
                    None,
                    Building.id,
                    None,
                    Building.next_self_check_due_at,
                    Building.next_self_check_due_at,
                    None,
                )
            ).where(
                Building.next_self_check_due_at.is_not(None),
                Building.next_self_check_due_at <= horizon,
                scope.where(actor, Building),
            )
        )
    if actor.role in ("building_manager", "grid_staff", "officer"):
        # Managers see every open hazard they must rectify; grid staff and officers the
        # overdue ones in their grids.
        due = Hazard.status == "open"
        if actor.role != "building_manager":
            due = and_(Hazard.status.in_(("open", "rectifying")), Hazard.due_at < now)
        parts.append(
            select(
                *_row(
                    "hazard_due",
                    Hazard.id,
                    None,
                    Hazard.building_id,
                    Hazard.id,
                    Hazard.due_at,
                    Hazard.reported_at,
                    None,
                )
            ).where(due, scope.where(actor, Hazard))
        )
    return parts


def waiting(actor: Actor, now: datetime, notice_days: int):
    """What waits for the actor, as a subquery of (kind, ref_id, submission_id, building_id,
    hazard_id, due_at, since, stage), and the key it is ordered by."""
    rows = union_all(*_parts(actor, now, notice_days)).subquery("waiting")
    at = func.coalesce(rows.c.due_at, rows.c.since)
    return rows, (at, rows.c.kind, rows.c.ref_id)


def inbox(
    *, db: Session, actor: Actor, limit: int, cursor: str | None, notice_days: int
) -> tuple[list[dict[str, Any]], str | None]:
    now = utcnow()
    waiting_rows, key = waiting(actor, now, notice_days)
    at = key[0]
    stmt = select(waiting_rows, at.label("at"))
    if cursor:
        raw = decode_cursor(cursor, 3)
        try:
            values = (datetime.fromisoformat(raw[0]), raw[1], uuid.UUID(raw[2]))
        except ValueError:
            raise Problem(slug="invalid-cursor") from None
        stmt = stmt.where(tuple_(*key) > tuple_(*values))
    rows = db.execute(stmt.order_by(*key).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.at.isoformat(), last.kind, last.ref_id])
    items = [
        {
            "kind": row.kind,
            "id": row.ref_id,
            "submission_id": row.submission_id,
            "building_id": row.building_id,
            "hazard_id": row.hazard_id,
            "stage": row.stage,
            "due_at": row.due_at,
            "since": row.since,
            "overdue": row.due_at is not None and row.due_at < now,
        }
        for row in rows
    ]
    return items, next_cursor
