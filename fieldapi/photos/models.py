"""Photos as evidence: the upload slot, the verified original, its derivatives, its uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from fieldapi.core.db import Base, UUIDPrimaryKey, utcnow

STATUSES = ("pending", "stored", "verified", "rejected")
SUBJECT_TYPES = ("building_statement", "equipment", "inspection", "hazard", "rectification")


class Photo(Base):
    """One uploaded photo. ``pending → stored → verified | rejected`` (see ``verification``)."""

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'stored', 'verified', 'rejected')", name="status"),
        # One live photo per uploader and content: a retry finds the first, not a copy.
        Index(
            "uq_photos_uploader_sha256_live",
            "uploader_id",
            "sha256",
            unique=True,
            sqlite_where=text("status != 'rejected'"),
            postgresql_where=text("status != 'rejected'"),
        ),
        Index("ix_photos_sha256", "sha256"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    upload_expires_at: Mapped[datetime] = mapped_column(index=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(32))
    rejection_detail: Mapped[str | None] = mapped_column(String(255))
    # What verification found in the bytes.
    format: Mapped[str | None] = mapped_column(String(8))
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    captured_at: Mapped[datetime | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    device: Mapped[str | None] = mapped_column(String(120))
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column()

    @property
    def original_key(self) -> str:
        return f"photos/{self.id}/original"

    @property
    def display_key(self) -> str:
        return f"photos/{self.id}/display.jpg"

    @property
    def thumbnail_key(self) -> str:
        return f"photos/{self.id}/thumbnail.jpg"


class PhotoUse(UUIDPrimaryKey, Base):
    """A photo attached to a record of a building, with the flags judged for that use."""

    __tablename__ = "photo_uses"
    __table_args__ = (
        Index("uq_photo_uses_subject", "photo_id", "subject_type", "subject_id", unique=True),
        Index("ix_photo_uses_subject", "subject_type", "subject_id"),
    )

    photo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), index=True
    )
    subject_type: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    attached_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    attached_at: Mapped[datetime] = mapped_column(default=utcnow)
    # ["far_from_building", "stale", ...] and what backs each flag (distance, age, where reused).
    flags: Mapped[list[Any]] = mapped_column(default=list)
    flag_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
