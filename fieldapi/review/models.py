"""Submissions in the review chain, their recorded transitions, and the routing rule table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapi.core import scope
from fieldapi.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow

REVIEW_STAGES = ("grid_review", "office_review", "police_review")
STAGES = (*REVIEW_STAGES, "closed", "returned")
# Who decides at each stage; a closed submission can only be reopened, by fire police.
STAGE_ROLE = {
    "grid_review": "grid_staff",
    "office_review": "fire_office",
    "police_review": "fire_police",
    "closed": "fire_police",
}
SUBJECT_TYPES = ("inspection", "hazard", "rectification")
DECISIONS = ("approve", "return", "reopen")
EVENTS = ("submit", "resubmit", *DECISIONS)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Submission(UUIDPrimaryKey, Timestamps, Base):
    """One inspection, hazard report or rectification on its way through the review chain."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id"),
        CheckConstraint(_one_of("subject_type", SUBJECT_TYPES), name="subject_type"),
        CheckConstraint(_one_of("stage", STAGES), name="stage"),
        Index("ix_submissions_stage_entered", "stage", "stage_entered_at"),
    )

    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    submitter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    # The review stages this submission must pass, chosen by the routing rules at (re)submit.
    route: Mapped[list[Any]] = mapped_column(default=list)
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    # Reopened by fire police: from then on it goes the whole way.
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_due_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)

    events: Mapped[list[SubmissionEvent]] = relationship(
        order_by="SubmissionEvent.seq", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class SubmissionEvent(UUIDPrimaryKey, Base):
    """One transition: who did what at which stage, on which version, and why."""

    __tablename__ = "submission_events"
    __table_args__ = (
        UniqueConstraint("submission_id", "seq"),
        CheckConstraint(_one_of("decision", EVENTS), name="decision"),
    )

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list[Any]] = mapped_column(default=list)  # checklist codes at issue
    version: Mapped[int] = mapped_column(Integer)  # the submission version decided on
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RoutingRule(UUIDPrimaryKey, Base):
    """One row of the routing table. The first rule, by position, that matches a submission
    names the review stages it must pass; an empty list closes it as soon as it is submitted.
    A condition left empty matches anything."""

    __tablename__ = "routing_rules"

    position: Mapped[int] = mapped_column(Integer, unique=True)
    subject_type: Mapped[str | None] = mapped_column(String(16))
    inspection_kind: Mapped[str | None] = mapped_column(String(16))
    has_failed_items: Mapped[bool | None] = mapped_column(Boolean)
    severities: Mapped[list[Any] | None] = mapped_column()
    stages: Mapped[list[Any]] = mapped_column()
    description: Mapped[str] = mapped_column(String(200), default="")


scope.register_building_child(Submission)
