"""The sync cursor, and the key of the copy step it carries.

A cursor says how far the phone has read: the last change number delivered (``s``), the
scope the phone holds (``d``, a digest of the grids or buildings it covered, kept in
``sync_scopes``), and, while a copy is under way, which step of the copy comes next
(``p``). It is signed with the server's key and bound to the user it was issued to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor


class InvalidCursor(Problem):
    slug = "invalid-cursor"


@dataclass
class Cursor:
    seq: int
    digest: str
    # A copy under way: the scope it moves from (None for a full copy), step, last key.
    copy_from: str | None = None
    copying: bool = False
    step: int = 0
    after: list[str] | None = None
    inbox: str | None = None  # digest of the inbox last sent along this cursor's line


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="fieldapi.sync.cursor")


def encode_cursor(secret: str, actor: Actor, cursor: Cursor) -> str:
    payload: dict[str, Any] = {"u": actor.user_id.hex, "s": cursor.seq, "d": cursor.digest}
    if cursor.inbox is not None:
        payload["i"] = cursor.inbox
    if cursor.copying:
        payload["p"] = [cursor.copy_from, cursor.step, cursor.after]
    return _serializer(secret).dumps(payload)


def decode_cursor(secret: str, actor: Actor, token: str) -> Cursor:
    """The cursor's state; refused when forged, altered, or issued to someone else."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        raise InvalidCursor() from None
    try:
        if payload["u"] != actor.user_id.hex:
            raise InvalidCursor("This cursor was issued to another account. Start again.")
        cursor = Cursor(seq=int(payload["s"]), digest=str(payload["d"]))
        if "i" in payload:
            cursor.inbox = str(payload["i"])
        if "p" in payload:
            copy_from, step, after = payload["p"]
            cursor.copying, cursor.copy_from, cursor.step, cursor.after = (
                True,
                copy_from,
                step,
                after,
            )
    except (KeyError, TypeError, ValueError):
        raise InvalidCursor() from None
    return cursor


def parse_key(raw: list[str] | None) -> tuple | None:
    if raw is None:
        return None
    try:
        return tuple(uuid.UUID(v) for v in raw)
    except (TypeError, ValueError, AttributeError):
        raise InvalidCursor() from None
