"""The phone's own database: one SQLite file that survives a restart of the app.

It holds the outbox (every write the user made, in order, until the server acknowledged
it), the objects the phone synced from the server, and a few settings (server URL, the
session's tokens, the sync cursor). Every change is one SQLite transaction: a write is
either queued or not, a sync page is either stored with its cursor or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- the order the user did things in
    key TEXT NOT NULL UNIQUE,                -- Idempotency-Key of this write
    kind TEXT NOT NULL,                      -- 'request' or 'photo'
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT,                               -- JSON
    if_match TEXT,
    object_type TEXT,                        -- what the write creates or acts on
    object_id TEXT,
    photo_file TEXT,                         -- for 'photo': the bytes, kept until verified
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | done | rejected
    round INTEGER NOT NULL DEFAULT 0,        -- photos: how many upload slots were used
    tries INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    answered_at REAL,
    status INTEGER,                          -- the final HTTP status
    answer TEXT                              -- the final answer's JSON body
);
CREATE TABLE IF NOT EXISTS objects (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT
);
"""


@dataclass(frozen=True)
class Write:
    """One queued write."""

    seq: int
    key: str
    kind: str
    method: str
    path: str
    body: Any
    if_match: str | None
    object_type: str | None
    object_id: str | None
    photo_file: str | None
    state: str
    round: int
    tries: int
    status: int | None
    answer: Any

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Write:
        return cls(
            seq=row["seq"],
            key=row["key"],
            kind=row["kind"],
            method=row["method"],
            path=row["path"],
            body=json.loads(row["body"]) if row["body"] is not None else None,
            if_match=row["if_match"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            photo_file=row["photo_file"],
            state=row["state"],
            round=row["round"],
            tries=row["tries"],
            status=row["status"],
            answer=json.loads(row["answer"]) if row["answer"] is not None else None,
        )

    def derived_key(self, step: str) -> str:
        """A key of its own for one step of a multi-step write (photos), stable across
        restarts: the same step of the same round is the same request."""
        return str(uuid.uuid5(uuid.UUID(self.key), f"{step}-{self.round}"))


class Store:
    """The SQLite file at ``path``; one connection, used from one thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One thread at a time (a phone may be handed from one worker thread to another).
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a write the user saw queued is on disk before the app goes on.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ the outbox

    def enqueue(
        self,
        *,
        kind: str,
        method: str,
        path: str,
        body: Any = None,
        if_match: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        photo_file: str | None = None,
    ) -> Write:
        key = str(uuid.uuid4())
        with self.transaction() as db:
            db.execute(
                "INSERT INTO outbox (key, kind, method, path, body, if_match, object_type,"
                " object_id, photo_file, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    kind,
                    method,
                    path,
                    json.dumps(body) if body is not None else None,
                    if_match,
                    object_type,
                    object_id,
                    photo_file,
                    time.time(),
                ),
            )
        return self.write(key)

    def write(self, key: str) -> Write:
        row = self.db.execute("SELECT * FROM outbox WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return Write.from_row(row)

    def writes(self, state: str | None = None) -> list[Write]:
        """Queued writes in the order they were made; all of them, or those in ``state``."""
        if state is None:
            rows = self.db.execute("SELECT * FROM outbox ORDER BY seq")
        else:
            rows = self.db.execute("SELECT * FROM outbox WHERE state = ? ORDER BY seq", (state,))
        return [Write.from_row(row) for row in rows]

    def pending(self) -> list[Write]:
        return self.writes("pending")

    def tried(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE outbox SET tries = tries + 1 WHERE key = ?", (key,))

    def next_round(self, key: str) -> Write:
        """A photo needs a new upload slot: its later steps get new keys."""
        with self.transaction() as db:
            db.execute("UPDATE outbox SET round = round + 1 WHERE key = ?", (key,))
        return self.write(key)

    def settle(self, key: str, *, state: str, status: int, answer: Any) -> None:
        """Record the server's final answer: ``done`` (acknowledged) or ``rejected``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, status = ?, answer = ?, answered_at = ?"
                " WHERE key = ?",
                (state, status, json.dumps(answer), time.time(), key),
            )

    # ------------------------------------------------------------------ synced objects

    def apply_page(
        self, changes: dict[str, dict[str, list]], cursor: str | None, inbox: list | None = None
    ) -> int:
        """Store one sync page and its cursor (and the inbox, when the page brings it)
        together; how many objects changed."""
        count = 0
        with self.transaction() as db:
            for object_type, change in changes.items():
                for obj in change.get("upserted") or ():
                    db.execute(
                        "INSERT INTO objects (type, id, body) VALUES (?,?,?)"
                        " ON CONFLICT (type, id) DO UPDATE SET body = excluded.body",
                        (object_type, str(obj["id"]), json.dumps(obj)),
                    )
                    count += 1
                for object_id in change.get("deleted") or ():
                    db.execute(
                        "DELETE FROM objects WHERE type = ? AND id = ?",
                        (object_type, str(object_id)),
                    )
                    count += 1
            self._set(db, "sync_cursor", cursor)
            if inbox is not None:
                self._set(db, "inbox", inbox)
        return count

    def objects(self, object_type: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT id, body FROM objects WHERE type = ?", (object_type,))
        return {row["id"]: json.loads(row["body"]) for row in rows}

    def get_object(self, object_type: str, object_id: str) -> Any:
        row = self.db.execute(
            "SELECT body FROM objects WHERE type = ? AND id = ?", (object_type, str(object_id))
        ).fetchone()
        return json.loads(row["body"]) if row else None

    # ------------------------------------------------------------------ settings

    def setting(self, name: str) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return json.loads(row["value"]) if row and row["value"] is not None else None

    def set_setting(self, name: str, value: Any) -> None:
        with self.transaction() as db:
            self._set(db, name, value)

    @staticmethod
    def _set(db: sqlite3.Connection, name: str, value: Any) -> None:
        db.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value) if value is not None else None),
        )
