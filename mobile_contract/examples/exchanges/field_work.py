"""Field work and review: the checklist, a self-check recorded and submitted, its hazard,
the decisions refused and made on its submission, a rectification, the inbox and the
building's timeline."""

from __future__ import annotations

import uuid
from typing import Any

from fieldapi.checklists.defaults import DEFAULT_ITEMS
from mobile_contract.examples.recorder import API, Recorder, recent


def _results(rec: Recorder, headers: dict[str, str], failed: str) -> list[dict[str, Any]]:
    items = []
    for seed, item in enumerate(DEFAULT_ITEMS, start=100):
        entry: dict[str, Any] = {"code": item["code"], "result": "pass"}
        if item["code"] == failed:
            entry.update(result="fail", note="Two e-bikes charging in the stairwell")
        if item["photo_required"]:
            entry["photo_ids"] = [rec.photo(headers, seed)]
        items.append(entry)
    return items


def field_work(rec: Recorder, world, as_user) -> None:
    mgr1, gw1 = as_user["mgr1"], as_user["gw1"]
    rec.record(
        "field-work/templates",
        "The current checklist for residential buildings",
        "GET",
        f"{API}/templates",
        headers=mgr1,
        query={"use_type": "residential"},
    )
    failing = next(i["code"] for i in DEFAULT_ITEMS if not i["photo_required"])
    inspection = {
        "id": str(uuid.uuid4()),
        "building_id": str(world.buildings["B1"]),
        "kind": "self_check",
        "performed_at": recent(),
        "location": {"lat": 22.528, "lon": 114.063},
        "items": _results(rec, mgr1, failing),
    }
    rec.record(
        "field-work/inspection-create",
        "Record a self-check (a draft; the current template is used)",
        "POST",
        f"{API}/inspections",
        headers=mgr1,
        body=inspection,
    )
    submitted = rec.record(
        "field-work/inspection-submit",
        "Submit it for review: the failed item becomes a hazard",
        "POST",
        f"{API}/inspections/{inspection['id']}/submit",
        headers=mgr1,
    )
    submission_url = f"{API}/submissions/{submitted.body['submission_id']}"
    hazards = rec.record(
        "field-work/hazards",
        "Open hazards of a building",
        "GET",
        f"{API}/hazards",
        headers=mgr1,
        query={"building_id": str(world.buildings["B1"]), "status": "open"},
    )
    current = rec.record(
        "field-work/submission", "A submission and its history", "GET", submission_url, headers=gw1
    )
    decisions = f"{submission_url}/decisions"
    rec.record(
        "field-work/decision-without-if-match",
        "A decision without If-Match is refused",
        "POST",
        decisions,
        headers=gw1,
        body={"decision": "approve"},
    )
    rec.record(
        "field-work/decision-wrong-role",
        "A fire office does not decide at the grid review stage",
        "POST",
        decisions,
        headers={**as_user["office1"], "If-Match": current.headers["ETag"]},
        body={"decision": "approve"},
    )
    rec.record(
        "field-work/decision-not-allowed",
        "Reopening a submission that is still open is not a decision this stage allows",
        "POST",
        decisions,
        headers={**gw1, "If-Match": current.headers["ETag"]},
        body={"decision": "reopen", "reason": "Look again"},
    )
    approved = rec.record(
        "field-work/decision",
        "Approve at grid review: the submission moves on",
        "POST",
        decisions,
        headers={**gw1, "If-Match": current.headers["ETag"]},
        body={"decision": "approve", "reason": "Checked on site"},
    )
    assert approved.status == 200, approved.body
    rec.record(
        "field-work/decision-stale",
        "A decision made on a submission that changed since it was read is refused",
        "POST",
        decisions,
        headers={**as_user["office1"], "If-Match": current.headers["ETag"]},
        body={"decision": "approve"},
    )
    hazard = hazards.body["items"][0]
    rec.record(
        "field-work/rectification",
        "Report the hazard rectified, with a photo of the result",
        "POST",
        f"{API}/hazards/{hazard['id']}/rectifications",
        headers=mgr1,
        body={
            "id": str(uuid.uuid4()),
            "note": "Bikes moved out, socket removed",
            "photo_ids": [rec.photo(mgr1, 300)],
        },
    )
    rec.record("field-work/inbox", "What awaits the caller", "GET", f"{API}/inbox", headers=gw1)
    rec.record(
        "field-work/timeline",
        "Everything that happened to a building, newest first",
        "GET",
        f"{API}/buildings/{world.buildings['B1']}/timeline",
        headers=gw1,
    )
