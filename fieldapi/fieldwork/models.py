"""Inspections, hazards (隐患) and rectifications: the safety checklist history of a building."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapi.checklists.models import SEVERITIES
from fieldapi.core import scope
from fieldapi.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow

INSPECTION_KINDS = ("self_check", "patrol", "verification")
RESULTS = ("pass", "fail", "na")
# draft → (waiting_photos →) submitted; a returned submission's inspection is edited as a draft.
INSPECTION_STATUSES = ("draft", "waiting_photos", "submitted")
HAZARD_SOURCES = ("inspection", "report")
# open → rectifying (a rectification is in review) → closed; withdrawn when the item that
# raised it passes on a resubmitted inspection. waiting_photos: a report waiting for photos.
HAZARD_STATUSES = ("waiting_photos", "open", "rectifying", "closed", "withdrawn")
RECTIFICATION_STATUSES = ("waiting_photos", "submitted")
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Inspection(UUIDPrimaryKey, Timestamps, Base):
    """One check of one building against one template version."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(_one_of("kind", INSPECTION_KINDS), name="kind"),
        CheckConstraint(_one_of("status", INSPECTION_STATUSES), name="status"),
        Index("ix_inspections_building_performed", "building_id", "performed_at"),
    )

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checklist_templates.id"))
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    performed_at: Mapped[datetime] = mapped_column()
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    submitted_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    # Kept with the results, so that lists and sync need not read every result: the results
    # that say more than "passed" (a fail, a not-applicable, or a pass with a note or photos)
    # as {"code", "result", "note"?, "photo_ids"?}, and the template's codes with no result.
    findings: Mapped[list[Any]] = mapped_column(default=list)
    unchecked: Mapped[list[Any]] = mapped_column(default=list)

    results: Mapped[list[InspectionResult]] = relationship(
        order_by="InspectionResult.position", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}

    def set_results(self, results: list[InspectionResult], template_codes: list[str]) -> None:
        """Replace the results, and what is kept of them."""
        self.results = results
        self.findings = [summary for result in results if (summary := result.finding())]
        have = {result.code for result in results}
        self.unchecked = [code for code in template_codes if code not in have]

    def photo_ids(self) -> list[uuid.UUID]:
        seen: dict[uuid.UUID, None] = {}
        for result in self.results:
            for photo_id in result.photo_ids:
                seen[uuid.UUID(str(photo_id))] = None
        return list(seen)


class InspectionResult(Base):
    """The result of one checklist item: pass, fail or not applicable, with note and photos."""

    __tablename__ = "inspection_results"
    __table_args__ = (
        UniqueConstraint("inspection_id", "code"),
        CheckConstraint(_one_of("result", RESULTS), name="result"),
    )

    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(4))
    note: Mapped[str | None] = mapped_column(Text)
    photo_ids: Mapped[list[Any]] = mapped_column(default=list)

    def finding(self) -> dict[str, Any] | None:
        """What this result says beyond "passed", or None when it says nothing more."""
        if self.result == "pass" and self.note is None and not self.photo_ids:
            return None
        entry: dict[str, Any] = {"code": self.code, "result": self.result}
        if self.note is not None:
            entry["note"] = self.note
        if self.photo_ids:
            entry["photo_ids"] = [str(p) for p in self.photo_ids]
        return entry


class Hazard(UUIDPrimaryKey, Timestamps, Base):
    """A fire hazard of a building: a failed checklist item, or one reported on its own."""

    __tablename__ = "hazards"
    __table_args__ = (
        UniqueConstraint("inspection_id", "item_code"),
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
        CheckConstraint(_one_of("status", HAZARD_STATUSES), name="status"),
        CheckConstraint(_one_of("source", HAZARD_SOURCES), name="source"),
        Index("ix_hazards_status_due", "status", "due_at"),
    )

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE")
    )
    item_code: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list[Any]] = mapped_column(default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reported_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def overdue(self) -> bool:
        live = self.status in ("open", "rectifying")
        return live and self.due_at is not None and self.due_at < utcnow()


class Rectification(UUIDPrimaryKey, Timestamps, Base):
    """The building manager's answer to a hazard: what was done, with after-photos."""

    __tablename__ = "rectifications"
    __table_args__ = (CheckConstraint(_one_of("status", RECTIFICATION_STATUSES), name="status"),)

    hazard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazards.id", ondelete="CASCADE"), index=True
    )
    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    note: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list[Any]] = mapped_column(default=list)
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PhotoWait(Base):
    """A record submitted before its photos finished: one row per photo still awaited."""

    __tablename__ = "photo_waits"

    subject_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Not a foreign key: an upload slot that expired before its bytes came is removed, and
    # the phone uploads the photo again under the same id; the record keeps waiting for it.
    photo_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    since: Mapped[datetime] = mapped_column(default=utcnow)


for _model in (Inspection, Hazard, Rectification):
    scope.register_building_child(_model)
