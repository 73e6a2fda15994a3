"""Failed-login counters shared by every worker: in the database, or in Redis when configured.

Only failures count, so an office whose staff sign in from one address is limited only
by its mistakes; per-username limits stop guessing one account, per-address limits stop
spraying many.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from fieldapi.auth.models import RateCounter
from fieldapi.core.db import utcnow


class CounterStore(Protocol):
    def count(self, key: str) -> tuple[int, int]:
        """(failures in the current window, seconds until it resets)."""

    def add(self, key: str, window: int) -> None: ...

    def clear(self, key: str) -> None: ...


class DatabaseCounters:
    """Counters in their own short transactions, so a refused login still counts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, key: str) -> tuple[int, int]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(RateCounter.count, RateCounter.reset_at).where(RateCounter.key == key)
            ).first()
        if row is None:
            return 0, 0
        reset_at = row.reset_at
        remaining = (reset_at - utcnow()).total_seconds()
        return (row.count, int(remaining) + 1) if remaining > 0 else (0, 0)

    def add(self, key: str, window: int) -> None:
        now = utcnow()
        table = RateCounter.__table__
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values(key=key, count=1, reset_at=now + timedelta(seconds=window))
        window_over = table.c.reset_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((window_over, 1), else_=table.c.count + 1),
                "reset_at": case((window_over, stmt.excluded.reset_at), else_=table.c.reset_at),
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            # Keep the table small: drop windows that ended long ago.
            conn.execute(delete(table).where(table.c.reset_at < now - timedelta(days=1)))

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(RateCounter.__table__).where(RateCounter.key == key))


class RedisCounters:
    """Counters as Redis keys that expire with their window; ``prefix`` keeps deployments apart."""

    def __init__(self, url: str, *, prefix: str = "fieldapi:login:") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def count(self, key: str) -> tuple[int, int]:
        pipe = self.redis.pipeline()
        pipe.get(self.prefix + key)
        pipe.ttl(self.prefix + key)
        value, ttl = pipe.execute()
        if value is None:
            return 0, 0
        return int(value), max(int(ttl), 1)

    def add(self, key: str, window: int) -> None:
        # Open the window with its expiry first, then count: a key can never outlive its
        # window (EXPIRE ... NX would need Redis 7, and a counter without one locks forever).
        pipe = self.redis.pipeline()
        pipe.set(self.prefix + key, 0, ex=window, nx=True)
        pipe.incr(self.prefix + key)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


class LoginThrottle:
    def __init__(
        self, store: CounterStore, *, per_username: int, per_address: int, window: int
    ) -> None:
        self.store = store
        self.per_username = per_username
        self.per_address = per_address
        self.window = window

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [
            (f"user:{username.strip().lower()}", self.per_username),
            (f"addr:{address}", self.per_address),
        ]

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait when either limit is reached, else None."""
        waits = []
        for key, limit in self._keys(username, address):
            count, reset_in = self.store.count(key)
            if count >= limit:
                waits.append(reset_in)
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        for key, _limit in self._keys(username, address):
            self.store.add(key, self.window)

    def succeeded(self, username: str) -> None:
        self.store.clear(f"user:{username.strip().lower()}")
