"""Idempotency-Key on every POST: a retry replays the first answer instead of working twice.

Semantics of the IETF draft "The Idempotency-Key HTTP Header Field":

- the key belongs to the signed-in user; the same key from another user is another key;
- the same key with the same request (method, path, body) replays the first answer, with
  ``Idempotent-Replayed: true``; with another request it is refused (422
  ``idempotency-key-reused``); while the first is still running, 409
  ``idempotency-in-progress`` with ``Retry-After``;
- only answers that did their work are kept (status below 400): an error changed nothing,
  and sending the request again runs it again;
- sign-in and refresh carry no signed-in user: their keys are checked for form, and their
  answers, which hold fresh credentials, are never written down.

How: the key is claimed in its own short transaction on a separate connection, committed
at once, so a concurrent retry on any worker sees the claim. The view runs; the answer is
written into the claim row in the request's own transaction, so it commits with the work or
not at all. When the request ends without a kept answer, the claim is released. A claim
left by a worker that died is taken over after ``CLAIM_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g, request
from sqlalchemy import ForeignKey, LargeBinary, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from fieldapi.core import db as database
from fieldapi.core import jsonbody
from fieldapi.core.db import Base, utcnow
from fieldapi.core.problems import Problem, problem_response

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# A claim with no answer after this long belongs to a worker that died; a retry takes it over.
CLAIM_TIMEOUT = timedelta(minutes=2)
RETRY_AFTER_SECONDS = 5
# Headers of the first answer that a replay repeats.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")

_KEY_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


class IdempotencyKey(Base):
    """One key of one user: the request it was first used for, and the answer once there."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2048))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Which request holds the key; only that request may answer or release it.
    claim_id: Mapped[uuid.UUID] = mapped_column()
    claimed_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(index=True)
    status_code: Mapped[int | None] = mapped_column()
    response_headers: Mapped[dict | None] = mapped_column(database.JSONDocument())
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary())
    completed_at: Mapped[datetime | None] = mapped_column()


@dataclass
class _Claim:
    user_id: uuid.UUID
    key: str
    claim_id: uuid.UUID


def parse_key(values: list[str]) -> str:
    """The key from the header's values: one string (bare or quoted), visible ASCII only."""
    if len(values) != 1:
        raise Problem(
            "Send one Idempotency-Key header, not several.", slug="idempotency-key-invalid"
        )
    raw = values[0]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]  # the draft's form is a quoted structured-field string
    if not raw:
        raise Problem("The Idempotency-Key is empty.", slug="idempotency-key-invalid")
    if len(raw) > MAX_KEY_LENGTH:
        raise Problem(
            f"The Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.",
            slug="idempotency-key-invalid",
        )
    if not set(raw) <= _KEY_CHARACTERS:
        raise Problem(
            "The Idempotency-Key may hold only visible ASCII characters, without quotes, "
            "backslashes or spaces.",
            slug="idempotency-key-invalid",
        )
    return raw


def _request_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request; a JSON body counts by its content, not its spacing or order."""
    try:
        canonical = json.dumps(
            jsonbody.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except jsonbody.MalformedJson:
        canonical = body  # not JSON (a route that reads none): the bytes as they are
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _insert(conn: Connection):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(IdempotencyKey)


def _in_progress() -> Problem:
    return Problem(
        slug="idempotency-in-progress", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def _reused() -> Problem:
    return Problem(
        "This key was first used for another request (another address or another body).",
        slug="idempotency-key-reused",
    )


def claim(
    engine: Engine,
    *,
    user_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    request_fingerprint: str,
    now: datetime,
    keep: timedelta,
) -> _Claim | IdempotencyKey:
    """Take the key for this request (committed at once), or return the finished row to
    replay. Raises 409 while another request holds it, 422 when it named another request."""
    claim_id = uuid.uuid4()
    fresh = {
        "method": method,
        "path": path,
        "fingerprint": request_fingerprint,
        "claim_id": claim_id,
        "claimed_at": now,
        "created_at": now,
        "status_code": None,
        "response_headers": None,
        "response_body": None,
        "completed_at": None,
    }
    with engine.begin() as conn:
        inserted = conn.execute(
            _insert(conn)
            .values(user_id=user_id, key=key, **fresh)
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyKey.claim_id)
        ).first()
        if inserted is not None:
            return _Claim(user_id, key, claim_id)
        row = conn.execute(
            select(IdempotencyKey.__table__).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        ).one()
        if row.created_at < now - keep:
            takeover = fresh  # expired: the key starts a new life
        elif (row.method, row.path, row.fingerprint) != (method, path, request_fingerprint):
            raise _reused()
        elif row.status_code is not None:
            return IdempotencyKey(
                status_code=row.status_code,
                response_headers=row.response_headers,
                response_body=row.response_body,
            )
        elif row.claimed_at >= now - CLAIM_TIMEOUT:
            raise _in_progress()
        else:
            takeover = {"claim_id": claim_id, "claimed_at": now}  # its worker died
        taken = conn.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.claim_id == row.claim_id,
            )
            .values(**takeover)
            .returning(IdempotencyKey.claim_id)
        ).first()
    if taken is not None:
        return _Claim(user_id, key, claim_id)
    # Another retry took it over or finished it between our read and our write.
    raise _in_progress()


def record(db: Session, held: _Claim, response: Response) -> bool:
    """Write the answer into the claim, in the request's transaction. False if the claim
    was taken over meanwhile (this request then must not commit its work)."""
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    written = db.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == held.user_id,
            IdempotencyKey.key == held.key,
            IdempotencyKey.claim_id == held.claim_id,
            IdempotencyKey.status_code.is_(None),
        )
        .values(
            status_code=response.status_code,
            response_headers=headers,
            response_body=response.get_data(),
            completed_at=utcnow(),
        )
        .returning(IdempotencyKey.claim_id)
        .execution_options(synchronize_session=False)
    ).first()
    return written is not None


def release(engine: Engine, held: _Claim) -> None:
    """Give the key back when no answer was kept, so a retry does the work."""
    with engine.begin() as conn:
        conn.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == held.user_id,
                IdempotencyKey.key == held.key,
                IdempotencyKey.claim_id == held.claim_id,
                IdempotencyKey.status_code.is_(None),
            )
        )


def prune(db: Session, *, now: datetime, keep: timedelta) -> int:
    """Forget keys older than ``keep``; returns how many."""
    result = db.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - keep))
    return result.rowcount


def replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or b"", status=row.status_code)
    for name, value in (row.response_headers or {}).items():
        response.headers[name] = value
    if "Content-Type" not in (row.response_headers or {}):
        del response.headers["Content-Type"]
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _keep() -> timedelta:
    return timedelta(hours=current_app.extensions["fieldapi.settings"].idempotency_hours)


def _engine() -> Engine:
    return current_app.extensions["fieldapi.engine"]


def _begin() -> Response | None:
    """Before the view (after the gate): claim the key, or answer from it."""
    if request.method != "POST" or request.endpoint is None:
        return None
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    key = parse_key(values)
    signed_in = g.get("actor")
    if signed_in is None:
        return None  # sign-in and refresh: answers hold credentials and are not kept
    path = _request_path()
    outcome = claim(
        _engine(),
        user_id=signed_in.user_id,
        key=key,
        method=request.method,
        path=path,
        request_fingerprint=fingerprint(
            method=request.method, path=path, body=request.get_data(cache=True)
        ),
        now=utcnow(),
        keep=_keep(),
    )
    if isinstance(outcome, _Claim):
        g.idempotency_claim = outcome
        return None
    return replay(outcome)


def _answer(response: Response) -> Response:
    """After the view, before the commit: keep an answer that did its work."""
    held = g.get("idempotency_claim")
    if held is None or response.status_code >= 400 or response.is_streamed:
        return response
    if not record(database.session(), held, response):
        log.warning("idempotency claim taken over while the request ran; its work is undone")
        return problem_response(_in_progress())
    return response


def _release_unanswered(_exc: BaseException | None = None) -> None:
    """After the commit (or rollback): release a claim that holds no answer."""
    held = g.pop("idempotency_claim", None)
    if held is None:
        return
    try:
        release(_engine(), held)
    except Exception:
        # The claim stays until it counts as abandoned; a retry then takes it over.
        log.exception("could not release an idempotency claim")


def install(app: Flask) -> None:
    """Register the hooks. Call after the gate's before_request and after the
    transaction's after_request: Flask runs after_request functions last-registered first,
    so the answer is written before the request commits."""
    app.before_request(_begin)
    app.after_request(_answer)
    app.teardown_request(_release_unanswered)
