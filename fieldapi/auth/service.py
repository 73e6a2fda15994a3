"""Sign in, refresh, sign out. Sessions live in the database so revocation holds everywhere."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from fieldapi.auth.models import AuthSession
from fieldapi.auth.passwords import Passwords
from fieldapi.auth.throttle import LoginThrottle
from fieldapi.core import direct
from fieldapi.core.db import utcnow
from fieldapi.core.problems import Problem, TooManyRequests
from fieldapi.users.models import User

# Ceilings whatever the configuration says: a stolen access token is good for minutes,
# and a phone signs in again at least once a month.
MAX_ACCESS_MINUTES = 15
MAX_REFRESH_DAYS = 30
# How long after a rotation the replaced refresh token may come back from a phone that did
# not get the answer (and has used nothing of it). Phones retry at once, or when the
# signal returns.
REFRESH_RETRY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _mint(
    db: Session,
    *,
    user: User,
    auth_session: AuthSession,
    access_minutes: int,
    replacing: str | None = None,
) -> Tokens:
    """A new access token and a new refresh token; only the newest refresh token works
    (and, until the new pair is used, the one it replaced: ``replacing``)."""
    now = utcnow()
    generation = (auth_session.generation or 0) + 1 if replacing else 1
    claims = {"sid": str(auth_session.id), "gen": generation}
    access_life = timedelta(minutes=min(access_minutes, MAX_ACCESS_MINUTES))
    # The refresh token ends with its session, however often it is rotated.
    refresh_life = max(auth_session.expires_at - now, timedelta(seconds=1))
    refresh = create_refresh_token(
        identity=str(user.id), additional_claims=claims, expires_delta=refresh_life
    )
    auth_session.refresh_jti = decode_token(refresh)["jti"]
    auth_session.generation = generation
    auth_session.previous_jti = replacing
    # A first pair replaces nothing: there is no earlier token to accept again.
    auth_session.newest_used = replacing is None
    access = create_access_token(
        identity=str(user.id), additional_claims=claims, expires_delta=access_life
    )
    db.flush()
    return Tokens(access, refresh, int(access_life.total_seconds()), user)


def _rehash(db: Session, *, user: User, passwords: Passwords, password: str) -> None:
    """Store the hash again with the current parameters, unless the password changed meanwhile.

    The row's version is left alone: the account as clients see it has not changed, and a
    concurrent edit by an admin must neither fail nor be overwritten.
    """
    old = user.password_hash
    new = passwords.hash(password)
    table = User.__table__
    db.execute(
        update(table)
        .where(table.c.id == user.id, table.c.password_hash == old)
        .values(password_hash=new)
    )


def login(
    *,
    db: Session,
    passwords: Passwords,
    throttle: LoginThrottle,
    username: str,
    password: str,
    address: str,
    user_agent: str | None,
    access_minutes: int,
    refresh_days: int,
) -> Tokens:
    """Check the credentials and open a session. Unknown user and wrong password look alike."""
    wait = throttle.retry_after(username, address)
    if wait is not None:
        raise TooManyRequests(retry_after=wait)
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        throttle.failed(username, address)
        raise Problem(slug="invalid-credentials")
    throttle.succeeded(username)
    if passwords.needs_rehash(user.password_hash):
        _rehash(db, user=user, passwords=passwords, password=password)
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        refresh_jti=uuid.uuid4().hex,
        expires_at=utcnow() + timedelta(days=min(refresh_days, MAX_REFRESH_DAYS)),
        client_address=address[:64],
        user_agent=(user_agent or "")[:255] or None,
    )
    db.add(auth_session)
    return _mint(db, user=user, auth_session=auth_session, access_minutes=access_minutes)


def refresh(
    *, db: Session, user_id: uuid.UUID, session_id: uuid.UUID, jti: str, access_minutes: int
) -> Tokens:
    """Rotate: the presented refresh token is spent; presenting a spent one ends the session."""
    row = db.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
        .with_for_update(of=AuthSession)
    ).first()
    if row is None:
        raise Problem(slug="token-invalid")
    auth_session, user = row
    if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow():
        raise Problem(slug="token-revoked")
    if not user.active:
        raise Problem(slug="token-revoked")
    if auth_session.refresh_jti == jti:
        replacing = jti
    elif (
        jti == auth_session.previous_jti
        and not auth_session.newest_used
        and auth_session.refreshed_at is not None
        and auth_session.refreshed_at > utcnow() - REFRESH_RETRY_WINDOW
    ):
        # The answer to the last refresh never reached the phone (the line dropped after
        # the server had rotated): nothing of that answer was used, so the token it
        # replaced may be exchanged again. The unreceived pair stops working.
        replacing = jti
    else:
        # A spent token came back: someone holds a copy. End the session for everyone, and
        # commit now: the refusal that follows rolls the rest of the request back.
        revoke_session(db=db, session_id=auth_session.id, reason="refresh_reuse")
        db.commit()
        raise Problem(slug="token-revoked", detail="This session was ended for safety.")
    auth_session.refreshed_at = utcnow()
    return _mint(
        db, user=user, auth_session=auth_session, access_minutes=access_minutes, replacing=replacing
    )


def mark_used(engine: Engine, *, session_id: uuid.UUID, generation: int) -> None:
    """A token of the session's newest generation was used: the phone has that pair, so
    the refresh token before it is spent for good. Written at once on its own connection,
    whatever becomes of the request (and without holding the request's database lock)."""
    table = AuthSession.__table__
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id == session_id, table.c.generation == generation)
            .values(newest_used=True)
        )


def revoke_session(*, db: Session, session_id: uuid.UUID, reason: str) -> None:
    db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def revoke_user_sessions(*, db: Session, user_id: uuid.UUID, reason: str) -> None:
    db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def logout(
    *, db: Session, user_id: uuid.UUID, session_id: uuid.UUID, refresh_session_id: uuid.UUID | None
) -> None:
    """End the caller's session, and the refresh token's if it names another of theirs."""
    revoke_session(db=db, session_id=session_id, reason="logout")
    if refresh_session_id and refresh_session_id != session_id:
        db.execute(
            update(AuthSession)
            .where(
                AuthSession.id == refresh_session_id,
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow(), revoked_reason="logout")
        )


class LiveSession(NamedTuple):
    """What the gate needs of a live session: who it is, and its token generation."""

    username: str
    role: str
    generation: int
    newest_used: bool


_s, _u = AuthSession.__table__.c, User.__table__.c
_LIVE = (
    select(_u.username, _u.role, _s.generation, _s.newest_used)
    .select_from(AuthSession.__table__.join(User.__table__, _u.id == _s.user_id))
    .where(
        _s.id == bindparam("session_id"),
        _s.user_id == bindparam("user_id"),
        _s.revoked_at.is_(None),
        _s.expires_at > bindparam("now"),
        _u.active.is_(True),
    )
)


def live_session(db: Session, *, user_id: uuid.UUID, session_id: uuid.UUID) -> LiveSession | None:
    """The session if it is live (not revoked, not expired) and its user active, else None:
    one lookup by the session's primary key, joined to its user's."""
    params = {"session_id": session_id, "user_id": user_id, "now": utcnow()}
    row = direct.first(db, _LIVE, params)
    return LiveSession(*row) if row else None
