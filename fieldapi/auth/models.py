"""Sign-in sessions and login-attempt counters, kept in the database for every worker."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from fieldapi.core.db import Base, UUIDPrimaryKey, utcnow


class AuthSession(UUIDPrimaryKey, Base):
    """One sign-in. Tokens carry its id; revoking it ends every token it issued."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Only the newest refresh token of a session works; presenting an older one is reuse.
    refresh_jti: Mapped[str] = mapped_column(String(64), unique=True)
    # Each rotation is a generation, named in its tokens. The token it replaced may come
    # back once more from a phone that never got the answer, as long as nothing of the
    # newest generation has been used (see ``service.refresh``).
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    previous_jti: Mapped[str | None] = mapped_column(String(64))
    newest_used: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RateCounter(Base):
    """A fixed-window counter (failed logins per username, per client address)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    reset_at: Mapped[datetime] = mapped_column(index=True)
