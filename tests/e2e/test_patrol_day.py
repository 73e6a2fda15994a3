"""A patrol day on a bad network, end to end.

The real server (gunicorn, several workers, PostgreSQL, SeaweedFS) behind a lossy proxy
(tests/e2e/lossy_proxy.py) that drops, delays and resets about a fifth of the requests and
a fifth of the answers. Reference phone clients (mobile_contract/client) act out a day
(tests/e2e/day.py). API traffic goes through the proxy; photo bytes go straight to the
object store by the presigned POST each upload slot hands out (the proxy is for the API).

At the end the server must hold exactly what the phones' own logs say they did: every
record once, every photo verified, every submission at the stage its decisions imply with
each decision applied once; and neither the phones nor gunicorn's log saw a 5xx.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from typing import Any

import psycopg
import pytest

from tests.conftest import BACKEND, PG_ADMIN_URL
from tests.e2e.day import Day, Facts
from tests.e2e.live_server import live_server
from tests.e2e.lossy_proxy import LossyProxy
from tests.support.world import PASSWORD

pytestmark = pytest.mark.skipif(
    BACKEND != "server",
    reason="the patrol day needs the server backend (PostgreSQL, SeaweedFS, gunicorn); "
    "run with FIELDAPI_TEST_BACKEND=server",
)

SEED = int(os.environ.get("FIELDAPI_E2E_SEED", "20261203"))
FULL = ["grid_review", "office_review", "police_review"]


def expected_route(facts: Facts) -> list[str]:
    """The default routing table (fieldapi/review/defaults.py), as a phone developer reads it."""
    if facts.subject_type == "inspection" and facts.failed == 0:
        return ["grid_review"]
    if facts.severity == "critical":
        return FULL
    if facts.subject_type == "rectification" and facts.severity == "minor":
        return ["grid_review", "office_review"]
    if facts.subject_type == "hazard" and facts.severity == "minor":
        return ["grid_review"]
    return FULL


def implied_stage(route: list[str], decisions: list[str]) -> str:
    stage = "draft"
    for decision in decisions:
        if decision in ("submit", "resubmit"):
            stage = route[0]
        elif decision == "return":
            stage = "returned"
        elif decision == "approve":
            position = route.index(stage)
            stage = route[position + 1] if position + 1 < len(route) else "closed"
    return stage


@pytest.fixture(scope="module")
def server(seaweedfs, tmp_path_factory):
    with live_server(PG_ADMIN_URL, seaweedfs, tmp_path_factory.mktemp("e2e-server")) as live:
        yield live


@pytest.fixture
def proxy(server):
    lossy = LossyProxy(("127.0.0.1", server.port), seed=SEED).start()
    yield lossy
    lossy.stop()


def phone_logs(day: Day) -> dict[str, Any]:
    """What the phones say they did, from their own outboxes."""
    created: dict[str, list[str]] = defaultdict(list)
    events: dict[str, list[tuple[float, str]]] = defaultdict(list)
    subject_of: dict[str, str] = {}
    leftovers = []
    for person in day.people.values():
        store = person.phone.store
        for write in person.phone.outbox():
            if write.state != "done":
                leftovers.append((person.name, write.state, write.path, write.answer))
                continue
            answered_at = store.db.execute(
                "SELECT answered_at FROM outbox WHERE key = ?", (write.key,)
            ).fetchone()[0]
            if write.kind == "photo":
                created["photo"].append(write.object_id)
            elif write.path.endswith(("/inspections", "/hazards", "/rectifications")):
                created[write.object_type].append(write.object_id)
            if write.path.endswith(("/hazards", "/rectifications", "/submit")):
                # The write that put a subject into review: its answer names the submission.
                submission_id = write.answer["submission_id"]
                subject_of[submission_id] = write.object_id
                events[submission_id].append((answered_at, "submit"))
            elif write.path.endswith("/decisions"):
                events[write.object_id].append((answered_at, write.body["decision"]))
            elif write.path.endswith("/resubmit"):
                events[write.object_id].append((answered_at, "resubmit"))
    return {
        "created": created,
        "events": {sid: [e for _at, e in sorted(evs)] for sid, evs in events.items()},
        "subject_of": subject_of,
        "leftovers": leftovers,
    }


def test_a_patrol_day_on_a_bad_network(server, proxy, tmp_path):
    started = time.monotonic()
    day = Day(proxy.url, server.world, tmp_path, SEED)
    day.run(PASSWORD)
    elapsed = time.monotonic() - started

    logs = phone_logs(day)
    assert logs["leftovers"] == [], "every write was acknowledged, none refused"
    created, events, subject_of = logs["created"], logs["events"], logs["subject_of"]

    with psycopg.connect(server.database_url) as db:

        def ids(sql: str) -> Counter[str]:
            return Counter(str(row[0]) for row in db.execute(sql))

        # Every record the phones made exists exactly once, and nothing else does.
        photos = ids("SELECT id FROM photos")
        assert photos == Counter(created["photo"])
        assert ids("SELECT id FROM photos WHERE status = 'verified'") == photos
        assert ids("SELECT id FROM inspections") == Counter(created["inspection"])
        assert ids("SELECT id FROM hazards WHERE source = 'report'") == Counter(created["hazard"])
        assert ids("SELECT id FROM rectifications") == Counter(created["rectification"])
        subjects = ids("SELECT subject_id FROM submissions")
        assert subjects == Counter(subject_of.values())
        # Each failed item became one hazard of its building.
        for inspection in created["inspection"]:
            raised = db.execute(
                "SELECT count(*) FROM hazards WHERE inspection_id = %s", (inspection,)
            ).fetchone()[0]
            assert raised == day.facts[inspection].failed

        # Every submission is where its decisions put it, each decision applied once.
        rows = db.execute("SELECT id, subject_id, stage, route FROM submissions").fetchall()
        stages: Counter[str] = Counter()
        for submission_id, subject_id, stage, route in rows:
            sid = str(submission_id)
            facts = day.facts[str(subject_id)]
            assert route == expected_route(facts), (facts, route)
            history = [
                row[0]
                for row in db.execute(
                    "SELECT decision FROM submission_events WHERE submission_id = %s ORDER BY seq",
                    (submission_id,),
                )
            ]
            assert history == events[sid], (sid, facts)
            assert stage == implied_stage(route, events[sid]), (sid, facts, history)
            stages[stage] += 1
        decisions = Counter(e for evs in events.values() for e in evs)
        hazards_by_status = Counter(row[0] for row in db.execute("SELECT status FROM hazards"))

    totals: Counter[str] = Counter()
    for person in day.people.values():
        c = person.phone.api.counters
        totals.update(
            requests=c.requests,
            retries=c.retries,
            network_errors=c.network_errors,
            replays=c.replays,
            in_progress=c.in_progress,
            refreshes=c.refreshes,
            sign_ins=c.sign_ins,
        )
    print()
    print(f"patrol day: seed {SEED}, {day.rounds} rounds, {elapsed:.1f} s")
    print(f"proxy: {dict(sorted(proxy.stats.items()))}")
    print(f"phones: {dict(totals)}")
    print(f"server: statuses {dict(sorted(server.log_statuses().items()))}")
    print(
        "records: "
        + ", ".join(f"{kind} {len(v)}" for kind, v in sorted(created.items()))
        + f", submissions {len(rows)}"
    )
    print(f"events: {dict(decisions)}; stages: {dict(stages)}; hazards: {dict(hazards_by_status)}")

    # No 5xx, seen by any phone or written in gunicorn's log.
    seen_5xx = {n: p.phone.api.counters.server_errors for n, p in day.people.items()}
    assert all(not errors for errors in seen_5xx.values()), seen_5xx
    assert server.server_errors_in_log() == []

    # The bad network really was bad, and the phones really did get through it.
    assert proxy.stats["requests dropped"] > 0
    assert proxy.stats["answers lost after the work"] > 0
    assert totals["replays"] > 0
    assert totals["retries"] > 0
    assert totals["refreshes"] + totals["sign_ins"] > len(day.people)
    assert stages["closed"] > 0
    assert decisions["return"] > 0
    assert decisions["resubmit"] > 0

    # Every phone brings its copy of its area up to date, over the same bad network, and
    # has what it made.
    synced = {name: person.phone.sync(limit=25) for name, person in day.people.items()}
    for name, person in day.people.items():
        mine = [w.object_id for w in person.phone.outbox("done") if w.path.endswith("/inspections")]
        assert set(mine) <= set(person.phone.store.objects("inspections")), name
    print(f"synced: { {n: (s.pages, s.changes) for n, s in synced.items()} }")
