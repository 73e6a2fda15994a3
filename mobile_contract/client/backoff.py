"""When to send a request again, and how long to wait first.

A phone retries what may succeed later: no connection, a lost answer, a server that is busy
(429, 503) or broken (5xx), and the server's "your first attempt is still running" (409
``idempotency-in-progress``). It never retries an answer that says the request itself is
wrong (400, 403, 404, 409 conflict, 412, 422…): sending it again cannot change that.

The wait is exponential with full jitter (a random time up to the exponential bound), so a
crowd of phones coming back online do not all retry in step; a ``Retry-After`` from the
server is a floor under it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses that say "not now" rather than "not this".
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_SLUGS = frozenset({"idempotency-in-progress"})


def should_retry(status: int, slug: str | None = None) -> bool:
    """True when the same request, sent again later, may well succeed."""
    return status in RETRY_STATUSES or status >= 500 or (status == 409 and slug in RETRY_SLUGS)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class Backoff:
    """Exponential backoff with full jitter.

    ``delay(n)`` for the n-th retry is uniform in ``[0, min(cap, base * 2**(n-1))]``, and at
    least ``retry_after`` when the server named one. ``attempts`` bounds the tries of one
    request (the first one included); after that the request waits for the next flush.
    """

    base: float = 0.25
    cap: float = 30.0
    attempts: int = 8
    rng: random.Random = field(default_factory=random.Random)

    def bound(self, retry: int) -> float:
        return min(self.cap, self.base * 2 ** max(retry - 1, 0))

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        jittered = self.rng.uniform(0, self.bound(retry))
        return max(jittered, retry_after or 0.0)
