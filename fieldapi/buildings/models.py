"""The building file (一楼一档): identity, responsibility card, residents, shops, equipment."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapi.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow

USE_TYPES = (
    "residential",
    "mixed",
    "commercial",
    "industrial",
    "rental",
    "small_venue",
    "public",
    "warehouse",
)
STRUCTURES = ("reinforced_concrete", "steel", "brick_concrete", "brick_wood", "wood", "other")
RISK_LEVELS = ("low", "medium", "high", "critical")
RESIDENT_KINDS = ("permanent", "floating")
EQUIPMENT_KINDS = (
    "extinguisher",
    "hydrant",
    "hose_reel",
    "sprinkler",
    "smoke_alarm",
    "alarm_panel",
    "emergency_light",
    "exit_sign",
    "fire_door",
    "escape_ladder",
    "other",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Building(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint(_one_of("use_type", USE_TYPES), name="use_type"),
        CheckConstraint(_one_of("risk_level", RISK_LEVELS), name="risk_level"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="location"),
    )

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255))
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    use_type: Mapped[str] = mapped_column(String(32), index=True)
    floors_above: Mapped[int] = mapped_column(Integer, default=1)
    floors_below: Mapped[int] = mapped_column(Integer, default=0)
    height_m: Mapped[float | None] = mapped_column(Float)
    structure: Mapped[str | None] = mapped_column(String(32))
    year_built: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    # Responsibility card: {"owner": {name, phone}, "manager": {...}, "safety_officer": {...}}
    responsibility: Mapped[dict[str, Any]] = mapped_column(default=dict)
    statement_signed_on: Mapped[date | None] = mapped_column()
    statement_photo_id: Mapped[uuid.UUID | None] = mapped_column()
    self_check_interval_days: Mapped[int] = mapped_column(Integer, default=30)
    next_self_check_due_at: Mapped[datetime | None] = mapped_column(index=True)
    last_inspected_at: Mapped[datetime | None] = mapped_column()
    risk_level: Mapped[str] = mapped_column(String(16), default="low", index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    units: Mapped[list[Unit]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="(Unit.floor, Unit.label)"
    )
    shops: Mapped[list[Shop]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="Shop.name"
    )
    equipment: Mapped[list[Equipment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="(Equipment.kind, Equipment.id)"
    )

    __mapper_args__ = {"version_id_col": version}


class Unit(UUIDPrimaryKey, Base):
    """A household or rentable unit, with the people registered in it."""

    __tablename__ = "building_units"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(40))
    floor: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    use: Mapped[str | None] = mapped_column(String(40))

    residents: Mapped[list[Resident]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="Resident.name"
    )


class Resident(UUIDPrimaryKey, Base):
    """A registered person: permanent or floating population, tenant or not. Personal data."""

    __tablename__ = "residents"
    __table_args__ = (CheckConstraint(_one_of("kind", RESIDENT_KINDS), name="kind"),)

    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("building_units.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    id_number: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    is_tenant: Mapped[bool] = mapped_column(default=False)
    registered_on: Mapped[date | None] = mapped_column()


class Shop(UUIDPrimaryKey, Base):
    __tablename__ = "shops"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    licence_number: Mapped[str | None] = mapped_column(String(40))
    business_type: Mapped[str] = mapped_column(String(60))
    operator_name: Mapped[str | None] = mapped_column(String(80))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    floor: Mapped[int | None] = mapped_column(Integer)


class Equipment(UUIDPrimaryKey, Base):
    __tablename__ = "equipment"
    __table_args__ = (
        CheckConstraint(_one_of("kind", EQUIPMENT_KINDS), name="kind"),
        CheckConstraint("count >= 0", name="count"),
    )

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=1)
    location: Mapped[str | None] = mapped_column(String(120))
    last_service_on: Mapped[date | None] = mapped_column()
    expires_on: Mapped[date | None] = mapped_column()
    photo_id: Mapped[uuid.UUID | None] = mapped_column()


class BuildingChange(UUIDPrimaryKey, Base):
    """One version of a building file: who changed which fields, from what to what."""

    __tablename__ = "building_changes"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(16))  # created | updated
    changes: Mapped[dict[str, Any]] = mapped_column()


class BuildingFile(Base):
    """The building file as its API answer, kept as JSON text and rewritten in the
    transaction that changes the building (``fieldapi.buildings.files``): a read sends the
    text instead of building the file anew. Kept twice, with residents' numbers masked
    and whole, for the roles that may read them."""

    __tablename__ = "building_files"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True
    )
    # The building version the text was made from; another version is not served.
    version: Mapped[int] = mapped_column(Integer)
    # When the clock first changes something in the text (a self-check falls overdue,
    # equipment expires); from then on a read recomputes those fields. None: never.
    fresh_until: Mapped[datetime | None] = mapped_column()
    masked: Mapped[str] = mapped_column(Text)
    whole: Mapped[str] = mapped_column(Text)
