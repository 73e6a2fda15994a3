"""The area tree: district → street → community → grid."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fieldapi.core.db import Base, Timestamps, UUIDPrimaryKey

AREA_KINDS = ("district", "street", "community", "grid")
PARENT_KIND = {"district": None, "street": "district", "community": "street", "grid": "community"}


class Area(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        CheckConstraint("kind IN ('district', 'street', 'community', 'grid')", name="kind"),
    )

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("areas.id", ondelete="RESTRICT"), index=True
    )
    # "/<district>/<street>/<community>/<grid>/": scope is a prefix match on it, in SQL.
    path: Mapped[str] = mapped_column(String(200), index=True)
    boundary: Mapped[dict[str, Any] | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
