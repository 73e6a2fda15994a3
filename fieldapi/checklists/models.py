"""Checklist templates: a versioned list of items to check, per building use type.

A version never changes once saved; editing a template saves the next version. The current
template of a use type is its highest version, so inspections that name an older version
keep the exact items they were checked against.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapi.buildings.models import USE_TYPES
from fieldapi.core.db import Base, UUIDPrimaryKey, utcnow

SEVERITIES = ("minor", "major", "critical")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ChecklistTemplate(UUIDPrimaryKey, Base):
    __tablename__ = "checklist_templates"
    __table_args__ = (
        UniqueConstraint("use_type", "version"),
        CheckConstraint(_one_of("use_type", USE_TYPES), name="use_type"),
        CheckConstraint("version >= 1", name="version"),
    )

    use_type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[ChecklistItem]] = relationship(
        order_by="ChecklistItem.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ChecklistItem(Base):
    __tablename__ = "checklist_items"
    __table_args__ = (
        UniqueConstraint("template_id", "code"),
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
    )

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checklist_templates.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    label_zh: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    photo_required: Mapped[bool] = mapped_column(Boolean)
