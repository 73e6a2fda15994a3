"""Entity tags for mutable resources: ``If-Match`` on writes, ``If-None-Match`` on reads."""

from __future__ import annotations

import hashlib

from fieldapi.core.problems import PreconditionFailed, PreconditionRequired


def make_etag(kind: str, object_id: object, version: int) -> str:
    digest = hashlib.sha256(f"{kind}:{object_id}:{version}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def _tags(header: str, *, weak: bool) -> list[str]:
    """The entity tags in a header. Weak comparison (If-None-Match) reads ``W/"x"`` as
    ``"x"``; strong comparison (If-Match) never lets a weak tag match."""
    tags = [t.strip() for t in header.split(",") if t.strip()]
    return [t.removeprefix("W/") for t in tags] if weak else tags


def require_match(if_match: str | None, current: str) -> None:
    """Refuse a write unless it names the current version (428 without, 412 when stale)."""
    if not if_match:
        raise PreconditionRequired()
    tags = _tags(if_match, weak=False)
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed()


def matches_none(if_none_match: str | None, current: str) -> bool:
    """True when the client already holds ``current`` (answer 304)."""
    if not if_none_match:
        return False
    tags = _tags(if_none_match, weak=True)
    return "*" in tags or current in tags
