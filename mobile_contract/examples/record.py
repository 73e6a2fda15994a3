"""Record the example exchanges of the phone contract from the real app.

Builds a throwaway app (SQLite file and local photo folder in a temporary directory), loads
the test world (tests/support/world.py: a small district, one persona per role), plays the
exchanges of the contract as a phone would, and writes each one, request and answer, to a
JSON file beside this script. Run from the repository root:

    .venv/bin/python -m mobile_contract.examples.record

Every file holds ``{"title", "request": {"method", "path", "url"?, "query"?, "headers",
"body"? | "body_bytes"?},
"response": {"status", "headers", "body"?}}``. Ids, tokens and times are those of the run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mobile_contract.examples.exchanges.areas_and_users import areas_and_users
from mobile_contract.examples.exchanges.building_file import building_file
from mobile_contract.examples.exchanges.errors import errors
from mobile_contract.examples.exchanges.field_work import field_work
from mobile_contract.examples.exchanges.offline import offline, sync
from mobile_contract.examples.exchanges.photos import photos
from mobile_contract.examples.exchanges.sessions import sessions
from mobile_contract.examples.recorder import API, Recorder
from mobile_contract.examples.recording_app import make_app
from tests.support.world import build_world

HERE = Path(__file__).resolve().parent


def record_all(out: Path = HERE) -> list[str]:
    """Play every exchange against a fresh app; the names of the files written."""
    for old in out.rglob("*.json"):
        old.unlink()
    workdir = Path(tempfile.mkdtemp(prefix="fieldapi-examples-"))
    try:
        app = make_app(workdir)
        world = build_world(app)
        rec = Recorder(app, out)
        as_user = sessions(rec, world)
        areas_and_users(rec, world, as_user)
        building_file(rec, world, as_user)
        photos(rec, as_user)
        field_work(rec, world, as_user)
        offline(rec, world, as_user)
        if any(rule.rule == f"{API}/sync" for rule in app.url_map.iter_rules()):
            sync(rec, as_user)
        errors(rec, world, as_user)
        app.extensions["fieldapi.engine"].dispose()
        return rec.names
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    names = record_all()
    print(f"{len(names)} exchanges written to {HERE}")
