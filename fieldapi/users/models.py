"""Accounts and what each is assigned to: area nodes, or buildings for building managers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapi.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'building_manager', 'grid_staff', 'officer', 'fire_office',"
            " 'fire_police')",
            name="role",
        ),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    area_links: Mapped[list[UserArea]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserArea.area_id"
    )
    building_links: Mapped[list[UserBuilding]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserBuilding.building_id"
    )

    @property
    def area_ids(self) -> list[uuid.UUID]:
        return [link.area_id for link in self.area_links]

    @property
    def building_ids(self) -> list[uuid.UUID]:
        return [link.building_id for link in self.building_links]


class UserArea(Base):
    __tablename__ = "user_areas"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class UserBuilding(Base):
    __tablename__ = "user_buildings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True, index=True
    )
