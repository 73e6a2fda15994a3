"""Counting the SQL statements one request runs, and the seeded world the counts run in.

``Api.count`` answers a GET and the statements it executed, every one that went to the
database on any connection of the app's engines (``before_cursor_execute``), the session
check and anything a view runs on a connection of its own included.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event

from fieldapi.models import Base
from tests.support.bulk import Seeded, seed

ENGINES = ("fieldapi.engine", "fieldapi.read_engine")


@contextmanager
def statements(app):
    """The statements executed on the app's engines while the block runs: the one of
    transactions, and the one in autocommit that read-only requests use."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, _parameters, _context, _executemany):
        seen.append(statement)

    engines = [app.extensions[name] for name in ENGINES]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)


@dataclass
class Counted:
    url: str
    params: dict
    body: dict
    statements: list[str]

    def __len__(self) -> int:
        return len(self.statements)


@dataclass
class Api:
    app: object
    seeded: Seeded
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    def sign_in(self, persona: str) -> dict[str, str]:
        if persona not in self.headers:
            answer = self.client.post(
                "/api/v1/auth/login",
                json={"username": persona, "password": self.seeded.world.password},
                environ_base={"REMOTE_ADDR": f"10.77.{len(self.headers)}.1"},
            )
            assert answer.status_code == 200, answer.get_json()
            token = answer.get_json()["access_token"]
            self.headers[persona] = {"Authorization": f"Bearer {token}"}
            # The first use of a token marks its session used: a write of its own, once.
            assert self.get(persona, "/api/v1/me").status_code == 200
        return self.headers[persona]

    def get(self, persona: str, url: str, params: dict | None = None):
        return self.client.get(url, query_string=params or {}, headers=self.sign_in(persona))

    def count(self, persona: str, url: str, params: dict) -> Counted:
        headers = self.sign_in(persona)
        with statements(self.app) as seen:
            answer = self.client.get(url, query_string=params, headers=headers)
        assert answer.status_code == 200, (url, params, answer.get_json())
        return Counted(url, params, answer.get_json(), list(seen))


def _short(statement: str, width: int = 400) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    return text if len(text) <= width else text[:width] + " …"


def report(small: Counted, large: Counted) -> str:
    """Both requests' statements, and which ran more often in the larger page."""
    lines = []
    for counted in (small, large):
        lines.append(f"\n{counted.url} {counted.params}: {len(counted)} statements")
        lines.extend(f"  {n:3}. {_short(s)}" for n, s in enumerate(counted.statements, 1))
    grown = Counter(large.statements) - Counter(small.statements)
    if grown:
        lines.append("\nRun more often in the larger page:")
        lines.extend(f"  +{times} × {_short(s)}" for s, times in grown.most_common())
    return "\n".join(lines)


def insert_world(app, world_rows):
    """The test world's rows, as the ``world`` fixture puts them back; the world."""
    built, rows = world_rows
    with app.extensions["fieldapi.engine"].begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])
    return copy.deepcopy(built)


def seeded_api(app, world_rows) -> Api:
    return Api(app, seed(app, insert_world(app, world_rows)))
