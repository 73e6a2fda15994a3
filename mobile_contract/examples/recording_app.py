"""The throwaway app the examples are recorded from: SQLite and a local photo folder in a
working directory, migrated, with the default checklists, and a hold that keeps one marked
request waiting so that a retry meeting it can be recorded."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import request

from fieldapi import create_app
from fieldapi.checklists.defaults import ensure_defaults
from fieldapi.config import Settings
from fieldapi.core import migrate

HOLD_HEADER = "X-Example-Hold"


class Hold:
    """Keeps a request that carries ``HOLD_HEADER`` waiting once its Idempotency-Key is
    claimed, as a request whose answer is slow in coming, so that the retry meeting it can
    be recorded. Requests without the header pass."""

    def __init__(self) -> None:
        self.claimed = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        if request.headers.get(HOLD_HEADER):
            self.claimed.set()
            self.release.wait(timeout=30)


def make_app(workdir: Path):
    """A fresh app kept in ``workdir``, migrated, with the default checklists and the hold."""
    settings = Settings(
        data_dir=workdir / "data",
        database_url=f"sqlite:///{workdir / 'fieldapi.db'}",
        storage_url=(workdir / "blobs").as_uri(),
        s3_endpoint_url=None,
        s3_region=None,
        secret_key="examples-secret-" + "x" * 40,
        public_url=None,
        redis_url=None,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    for folder in (settings.data_dir, workdir / "blobs"):
        folder.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # After the app's own hooks: the sign-in check and the Idempotency-Key claim come first.
    app.extensions["examples.hold"] = hold = Hold()
    app.before_request(hold)
    migrate.upgrade(app.extensions["fieldapi.engine"])
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    return app
