"""A patrol day, acted out by reference phone clients.

Building managers run self-checks of their buildings with photos (some items fail and
become hazards), rectify the hazards with after-photos and resubmit what comes back; a
community officer reports hazards seen on patrol; grid staff, the fire protection office
and fire police review what waits at their stage, approving most and returning some (each
submission at most once, so the day ends). Every persona works on its own thread and its
own phone; the work goes in rounds (field work, then reviews) until a round has nothing
left to do. Each persona draws from its own seeded random generator.
"""

from __future__ import annotations

import itertools
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldapi.checklists.defaults import DEFAULT_ITEMS
from mobile_contract.client import Backoff, Phone
from mobile_contract.client.api import API
from tests.photos import images

SITE = (22.528, 114.063)  # where the world's buildings stand
STAGE_REVIEWER_ROLE = {
    "grid_review": "grid_staff",
    "office_review": "fire_office",
    "police_review": "fire_police",
}
SEVERITY = {item["code"]: item["severity"] for item in DEFAULT_ITEMS}
RANK = {"minor": 1, "major": 2, "critical": 3}
MANAGERS = {"mgr1": ["B1"], "mgr2": ["B2", "B5"], "mgr3": ["B3", "B6"]}
OFFICER_REPORTS = [("B2", "minor"), ("B5", "major"), ("B1", "critical")]
REVIEWERS = {
    "gw1": "grid_review",
    "gw2": "grid_review",
    "gw3": "grid_review",
    "office1": "office_review",
    "police1": "police_review",
}
RETURN_SHARE = 0.25
_photo_seeds = itertools.count(50_000)
_seed_lock = threading.Lock()


def photo_bytes(rng: random.Random) -> bytes:
    """A small, distinct phone photo taken a few minutes ago, a few metres from the site."""
    with _seed_lock:
        seed = next(_photo_seeds)
    lat = SITE[0] + rng.uniform(-0.0002, 0.0002)
    lon = SITE[1] + rng.uniform(-0.0002, 0.0002)
    taken = datetime.now(UTC) - timedelta(minutes=rng.randint(1, 20))
    return images.jpeg(160, 120, seed=seed, gps=(lat, lon), taken=taken, make="HUAWEI", model="P60")


@dataclass
class Facts:
    """What routing looks at, as the phone that submitted knows it."""

    subject_type: str
    kind: str | None = None
    failed: int = 0
    severity: str | None = None


@dataclass
class Persona:
    name: str
    role: str
    phone: Phone
    rng: random.Random
    user_id: str = ""
    rectified: set[str] = field(default_factory=set)


class Day:
    def __init__(self, url: str, world, workdir: Path, seed: int) -> None:
        self.world = world
        self.building = {str(v): k for k, v in world.buildings.items()}
        self.facts: dict[str, Facts] = {}  # subject id -> what routes it
        self.lock = threading.Lock()
        self.people: dict[str, Persona] = {}
        roles = {"officer1": "officer", **dict.fromkeys(MANAGERS, "building_manager")}
        roles.update({r: STAGE_REVIEWER_ROLE[s] for r, s in REVIEWERS.items()})
        for index, (name, role) in enumerate(sorted(roles.items())):
            backoff = Backoff(base=0.1, cap=2.0, attempts=12, rng=random.Random(seed + index))
            phone = Phone(workdir / name, url, backoff=backoff, timeout=(3.0, 30.0))
            self.people[name] = Persona(name, role, phone, random.Random(seed * 31 + index))
        self.rounds = 0

    # ------------------------------------------------------------------ running

    def run(self, password: str, *, max_rounds: int = 14) -> None:
        self._all(lambda p: self._sign_in(p, password))
        for round_number in range(max_rounds):
            self.rounds = round_number + 1
            if round_number == 2:
                # Back in the foreground, every phone renews its session (over the bad
                # network: a lost answer spends the refresh token, and the phone signs in again).
                self._all(lambda p: p.phone.api.renew())
            field_work = self._all(lambda p, n=round_number: self._field(p, n), roles=FIELD)
            reviews = self._all(self._review, roles=REVIEW)
            if not any(field_work) and not any(reviews):
                return
        raise AssertionError(f"the day did not end in {max_rounds} rounds")

    def _all(self, work, roles=None) -> list[Any]:
        chosen = [p for p in self.people.values() if roles is None or p.role in roles]
        with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            return list(pool.map(work, chosen))

    def _sign_in(self, person: Persona, password: str) -> None:
        user = person.phone.sign_in(person.name, password)
        person.user_id = user["id"]

    def _flush(self, person: Persona) -> None:
        report = person.phone.flush()
        if report.stopped or report.rejected:
            refused = [(w.method, w.path, w.status, w.answer) for w in report.rejected]
            raise AssertionError(f"{person.name}: stopped={report.stopped} refused={refused}")

    def _list(self, person: Persona, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
            body, _etag = person.phone.read(path, **query)
            items.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return items

    # ------------------------------------------------------------------ field work

    def _field(self, person: Persona, round_number: int) -> int:
        queued = 0
        if person.role == "building_manager":
            if round_number == 0:
                for code in MANAGERS[person.name]:
                    self._self_check(person, code)
                    queued += 1
                self._flush(person)  # the hazards exist once the self-checks are in
            queued += self._rectify_open_hazards(person)
        if person.role == "officer" and round_number == 0:
            for code, severity in OFFICER_REPORTS:
                self._report(person, code, severity)
                queued += 1
        queued += self._resubmit_returned(person)
        self._flush(person)
        return queued

    def _self_check(self, person: Persona, code: str) -> None:
        rng = person.rng
        failing = set(rng.sample(sorted(SEVERITY), k=rng.choice([0, 0, 1, 2])))
        items = []
        for item in DEFAULT_ITEMS:
            entry: dict[str, Any] = {
                "code": item["code"],
                "result": "fail" if item["code"] in failing else "pass",
            }
            if item["photo_required"] or item["code"] in failing:
                entry["photo_ids"] = [person.phone.take_photo(photo_bytes(rng))]
            if item["code"] in failing:
                entry["note"] = f"{item['code']} failing on floor {rng.randint(1, 9)}"
            items.append(entry)
        inspection = person.phone.record_inspection(
            building_id=str(self.world.buildings[code]),
            kind="self_check",
            items=items,
            location={"lat": SITE[0], "lon": SITE[1]},
            performed_at=(datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        )
        person.phone.submit_inspection(inspection)
        worst = max((SEVERITY[c] for c in failing), key=RANK.__getitem__, default=None)
        with self.lock:
            self.facts[inspection] = Facts("inspection", "self_check", len(failing), worst)

    def _report(self, person: Persona, code: str, severity: str) -> None:
        photo = person.phone.take_photo(photo_bytes(person.rng))
        hazard = person.phone.report_hazard(
            building_id=str(self.world.buildings[code]),
            category="electric_bikes",
            severity=severity,
            description=f"E-bikes charging in the stairwell of {code}",
            photo_ids=[photo],
            location={"lat": SITE[0], "lon": SITE[1]},
        )
        with self.lock:
            self.facts[hazard] = Facts("hazard", severity=severity)

    def _rectify_open_hazards(self, person: Persona) -> int:
        queued = 0
        for hazard in self._list(person, f"{API}/hazards", status="open"):
            if hazard["id"] in person.rectified:
                continue
            done, _ = person.phone.read(f"{API}/hazards/{hazard['id']}/rectifications")
            if done["items"]:
                continue  # one is on its way; a returned one is resubmitted instead
            photo = person.phone.take_photo(photo_bytes(person.rng))
            rectification = person.phone.rectify(
                hazard["id"], note="Cleared and fixed; see the after-photo", photo_ids=[photo]
            )
            person.rectified.add(hazard["id"])
            with self.lock:
                self.facts[rectification] = Facts("rectification", severity=hazard["severity"])
            queued += 1
        return queued

    def _resubmit_returned(self, person: Persona) -> int:
        queued = 0
        for item in self._list(person, f"{API}/submissions", mine="true", stage="returned"):
            submission, etag = person.phone.read(f"{API}/submissions/{item['id']}")
            subject = submission["subject"]["type"]
            if subject == "inspection":
                changes: dict[str, Any] = {"note": "Checked again as asked"}
            elif subject == "hazard":
                changes = {"description": "E-bikes charging in the stairwell, two of them"}
            else:
                photo = person.phone.take_photo(photo_bytes(person.rng))
                changes = {"note": "Done properly this time", "photo_ids": [photo]}
            person.phone.resubmit(item["id"], etag=etag, **changes)
            queued += 1
        return queued

    # ------------------------------------------------------------------ reviews

    def _review(self, person: Persona) -> int:
        stage = REVIEWERS[person.name]
        decided = 0
        for item in self._list(person, f"{API}/submissions", stage=stage):
            submission, etag = person.phone.read(f"{API}/submissions/{item['id']}")
            if submission["stage"] != stage or submission["submitter_id"] == person.user_id:
                continue
            returned_before = any(h["decision"] == "return" for h in submission["history"])
            if not returned_before and person.rng.random() < RETURN_SHARE:
                person.phone.decide(
                    item["id"], "return", etag=etag, reason=f"{stage}: photos unclear, redo"
                )
            else:
                person.phone.decide(item["id"], "approve", etag=etag)
            decided += 1
        self._flush(person)
        return decided


FIELD = {"building_manager", "officer"}
REVIEW = {"grid_staff", "fire_office", "fire_police"}
