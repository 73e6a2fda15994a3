"""What waits for the caller: reviews at their stage, returned work, self-checks and hazards due.

One query: a UNION of what waits, each row with when it is due, in the caller's scope,
oldest due first, paged by a keyset cursor over (due, kind, id). ``GET /inbox`` joins the
page to what a screen shows of each item (the building's code, name and address, the
subject, the hazard's severity and title) in that same statement.

The statements are built once per role, with the caller's id, the time and the page as
bound parameters: building the UNION with its scope filters takes longer than running it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from fieldapi.buildings.models import Building
from fieldapi.checklists.models import ChecklistItem
from fieldapi.core import scope
from fieldapi.core.db import UTCDateTime, utcnow
from fieldapi.core.pagination import decode_cursor, encode_cursor
from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.review.models import REVIEW_STAGES, STAGE_ROLE, Submission

KINDS = ("review", "returned", "self_check_due", "hazard_due")
TITLE_CHARS = 40
# Runs of digits that could be a phone or an identity number (with spaces or dashes, an
# identity number's final X): a title written from a free-text description never shows one.
_NUMBER = re.compile(r"\d[\d \-]{5,}[\dXx]")

_ACTOR_ID = bindparam("inbox_actor_id", type_=Uuid())
_NOW = bindparam("inbox_now", type_=UTCDateTime())
_HORIZON = bindparam("inbox_horizon", type_=UTCDateTime())
_LIMIT = bindparam("inbox_limit", type_=Integer())
_AFTER = (
    bindparam("inbox_after_at", type_=UTCDateTime()),
    bindparam("inbox_after_kind", type_=String()),
    bindparam("inbox_after_id", type_=Uuid()),
)


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


def _parts(actor: Actor, now, horizon) -> list[Select]:
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


def _horizon(actor_role: str, now, notice_days: int):
    return now + timedelta(days=notice_days) if actor_role == "building_manager" else now


def _waiting(actor: Actor, now, horizon):
    rows = union_all(*_parts(actor, now, horizon)).subquery("waiting")
    at = func.coalesce(rows.c.due_at, rows.c.since)
    return rows, (at, rows.c.kind, rows.c.ref_id)


def waiting(actor: Actor, now: datetime, notice_days: int):
    """What waits for the actor, as a subquery of (kind, ref_id, submission_id, building_id,
    hazard_id, due_at, since, stage), and the key it is ordered by."""
    return _waiting(actor, now, _horizon(actor.role, now, notice_days))


@cache
def _statement(role: str, after: bool, shown: bool) -> Select:
    """One page of what waits for any user of ``role`` (``shown``: with what a screen shows
    of each item); the user, the time, the cursor and the limit are bound parameters."""
    # Scope rules compare the actor's id in SQL only, so a bound parameter stands for it.
    placeholder = Actor(user_id=_ACTOR_ID, username="", role=role)  # type: ignore[arg-type]
    rows, key = _waiting(placeholder, _NOW, _HORIZON)
    page = select(rows, key[0].label("at"))
    if after:
        page = page.where(tuple_(*key) > tuple_(*_AFTER))
    page = page.order_by(*key).limit(_LIMIT)
    if not shown:
        return page
    p = page.subquery("page")
    submission = aliased(Submission, name="subject")
    rectification = aliased(Rectification, name="rectification")
    hazard = aliased(Hazard, name="hazard")
    inspection = aliased(Inspection, name="inspection")
    item = aliased(ChecklistItem, name="item")
    hazard_id = func.coalesce(
        p.c.hazard_id,
        case((submission.subject_type == "hazard", submission.subject_id)),
        rectification.hazard_id,
    )
    return (
        select(
            p,
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Building.address.label("building_address"),
            submission.subject_type,
            submission.subject_id,
            hazard.severity,
            item.label_zh.label("item_label"),
            func.substr(hazard.description, 1, 2 * TITLE_CHARS).label("description"),
        )
        .join(Building, Building.id == p.c.building_id)
        .outerjoin(submission, submission.id == p.c.submission_id)
        .outerjoin(
            rectification,
            and_(
                submission.subject_type == "rectification",
                rectification.id == submission.subject_id,
            ),
        )
        .outerjoin(hazard, hazard.id == hazard_id)
        .outerjoin(inspection, inspection.id == hazard.inspection_id)
        .outerjoin(
            item, and_(item.template_id == inspection.template_id, item.code == hazard.item_code)
        )
        .order_by(p.c.at, p.c.kind, p.c.ref_id)
    )


def _page(
    db: Session,
    actor: Actor,
    *,
    now: datetime,
    limit: int,
    cursor: str | None,
    notice_days: int,
    shown: bool,
):
    params: dict[str, Any] = {
        "inbox_actor_id": actor.user_id,
        "inbox_now": now,
        "inbox_horizon": _horizon(actor.role, now, notice_days),
        "inbox_limit": limit + 1,
    }
    if cursor:
        raw = decode_cursor(cursor, 3)
        try:
            values = (datetime.fromisoformat(raw[0]), raw[1], uuid.UUID(raw[2]))
        except ValueError:
            raise Problem(slug="invalid-cursor") from None
        if values[0].tzinfo is None:
            raise Problem(slug="invalid-cursor")
        params.update(zip((b.key for b in _AFTER), values, strict=True))
    stmt = _statement(actor.role, bool(cursor), shown)
    rows = db.connection().execute(stmt, params).all()  # plain rows: no ORM on the way
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.at.isoformat(), last.kind, last.ref_id])
    return rows, next_cursor


def inbox(
    *, db: Session, actor: Actor, limit: int, cursor: str | None, notice_days: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of what waits, item by item as sync sends the inbox: ids, stage and times."""
    now = utcnow()
    rows, next_cursor = _page(
        db, actor, now=now, limit=limit, cursor=cursor, notice_days=notice_days, shown=False
    )
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


def title(item_label: str | None, description: str | None) -> str | None:
    """A hazard's title: its checklist item's label, else the first line of its description
    cut short, with anything that could be a phone or identity number masked."""
    if item_label:
        return item_label
    lines = (description or "").strip().splitlines()
    if not lines:
        return None
    # Masked character for character: the cut below then falls within the description's
    # first 2 * TITLE_CHARS characters (all the query reads), whole numbers included.
    text = _NUMBER.sub(lambda number: "*" * len(number.group()), lines[0])
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def shown(
    *, db: Session, actor: Actor, limit: int, cursor: str | None, notice_days: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of what waits, each item with what a screen shows of it (``InboxItemSchema``)."""
    now = utcnow()
    rows, next_cursor = _page(
        db, actor, now=now, limit=limit, cursor=cursor, notice_days=notice_days, shown=True
    )
    items = []
    for row in rows:
        is_hazard = row.kind == "hazard_due"
        in_review = row.submission_id is not None
        items.append(
            {
                "kind": row.kind,
                "id": row.ref_id,
                "submission_id": row.submission_id,
                "building_id": row.building_id,
                "hazard_id": row.hazard_id,
                "building": {
                    "id": row.building_id,
                    "code": row.building_code,
                    "name": row.building_name,
                    "address": row.building_address,
                },
                "subject": (
                    {"type": "hazard", "id": row.hazard_id}
                    if is_hazard
                    else {"type": row.subject_type, "id": row.subject_id}
                    if in_review
                    else None
                ),
                "stage": row.stage,
                "hours_waiting": (
                    round((now - row.since).total_seconds() / 3600, 1) if in_review else None
                ),
                "severity": row.severity,
                "title": title(row.item_label, row.description) if row.severity else None,
                "due_at": row.due_at,
                "since": row.since,
                "overdue": row.due_at is not None and row.due_at < now,
            }
        )
    return items, next_cursor
