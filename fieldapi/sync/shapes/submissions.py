"""Submissions as sync sends them: the stage and route, with the last decision only (the
whole history is read online)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from fieldapi.core.scope import Actor
from fieldapi.review.models import Submission, SubmissionEvent
from fieldapi.sync.pg_json import among, id_and_doc, json_object, unless_empty
from fieldapi.sync.reading import Entity
from fieldapi.sync.rows import Rows, chunks, fragment, one_of, raw_json


def _submission_columns() -> Select:
    s = Submission
    return select(
        s.id,
        s.building_id,
        s.subject_type,
        s.subject_id,
        s.stage,
        raw_json(s.route).label("route"),
        s.escalated,
        s.stage_due_at,
        s.version,
    )


def _shape_submissions(db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    e = SubmissionEvent
    last: dict[uuid.UUID, dict] = {}
    for chunk in chunks([row.id for row in rows]):
        newest = (
            select(e.submission_id, func.max(e.seq).label("seq"))
            .where(one_of(db, e.submission_id, chunk))
            .group_by(e.submission_id)
            .subquery()
        )
        stmt = (
            select(e.submission_id, e.decision, e.to_stage, e.actor_id, e.at, e.reason)
            .add_columns(raw_json(e.items))
            .join(newest, and_(newest.c.submission_id == e.submission_id, newest.c.seq == e.seq))
        )
        for sid, decision, stage, actor_id, at, reason, items in db.connection().execute(stmt):
            event: dict[str, Any] = {
                "decision": decision,
                "stage": stage,
                "actor_id": actor_id,
                "at": at,
            }
            if reason is not None:
                event["reason"] = reason
            if items and items != "[]":
                event["items"] = fragment(items)
            last[sid] = event
    return [
        {
            "id": r.id,
            "subject": {"type": r.subject_type, "id": r.subject_id},
            "stage": r.stage,
            "route": fragment(r.route),
            "escalated": r.escalated,
            "stage_due_at": r.stage_due_at,
            "version": r.version,
            "last_decision": last.get(r.id),
        }
        for r in rows
    ]


def _submission_document(_actor: Actor, ids: ColumnElement) -> Select:
    s, e = Submission, SubmissionEvent
    newest = (
        select(e.submission_id, e.decision, e.to_stage, e.actor_id, e.at, e.reason, e.items)
        .where(among(e.submission_id, ids))
        .order_by(e.submission_id, e.seq.desc())
        .ext(distinct_on(e.submission_id))
        .subquery("last")
    )
    last = json_object(
        ("decision", newest.c.decision, "text"),
        ("stage", newest.c.to_stage, "text"),
        ("actor_id", newest.c.actor_id, "id"),
        ("at", newest.c.at, "time"),
        ("reason", newest.c.reason, "text?"),
        ("items", unless_empty(newest.c["items"]), "raw?"),
    )
    last = case((newest.c.submission_id.is_not(None), last))
    doc = json_object(
        ("id", s.id, "id"),
        (
            "subject",
            json_object(("type", s.subject_type, "text"), ("id", s.subject_id, "id")),
            "raw",
        ),
        ("stage", s.stage, "text"),
        ("route", s.route, "json"),
        ("escalated", s.escalated, "number"),
        ("stage_due_at", s.stage_due_at, "time"),
        ("version", s.version, "number"),
        ("last_decision", last, "raw"),
    )
    return id_and_doc(s, doc, ids).select_from(s).outerjoin(newest, newest.c.submission_id == s.id)


SUBMISSIONS = Entity(
    "submissions",
    Submission,
    lambda: Submission.building_id,
    _submission_columns,
    _shape_submissions,
    document=_submission_document,
)
