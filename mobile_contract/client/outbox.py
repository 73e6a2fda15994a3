"""Sending the outbox: every queued write, in the order it was made, until acknowledged.

A write is sent with its own Idempotency-Key (kept in the outbox, so a restart does not
change it); while the network or the server says "not now" it is retried (``Api.send``).
When even that does not get through, the flush stops and keeps the rest in order for next
time: later writes often depend on earlier ones (a submit on its inspection, an inspection
on its photos). A write the server refuses (a 4xx) is kept as ``rejected`` with the
server's problem, for the user to see, and the flush goes on.

A photo is one write in three steps, each safe to repeat: ask for an upload slot
(POST /photos, with the phone's id for the photo), send the bytes as the slot says (to the
object store, or to the API's own content route), and POST /photos/{id}/complete. A slot
expires; when the store refuses the bytes, the photo takes a new slot (a new "round", so
the slot request is not answered from the replay of the old one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from mobile_contract.client.api import API, Api, SignedOut, Unreachable, problem_of, slug_of
from mobile_contract.client.store import Store, Write

# How many upload slots one flush may use for one photo before it gives up for now.
SLOTS_PER_FLUSH = 3


@dataclass
class FlushReport:
    acknowledged: list[Write] = field(default_factory=list)
    rejected: list[Write] = field(default_factory=list)
    stopped: str | None = None  # why the flush stopped before the end (offline, signed out)

    @property
    def complete(self) -> bool:
        return self.stopped is None


def _answer(response: requests.Response) -> Any:
    problem = problem_of(response)
    if problem is not None:
        return problem
    try:
        return response.json() if response.content else None
    except ValueError:
        return {"text": response.text[:500]}


def flush(api: Api, store: Store) -> FlushReport:
    """Send every pending write, oldest first."""
    report = FlushReport()
    for write in store.pending():
        store.tried(write.key)
        try:
            if write.kind == "photo":
                status, answer = _send_photo(api, store, write)
            else:
                status, answer = _send_request(api, write)
        except (Unreachable, SignedOut) as exc:
            report.stopped = str(exc)
            break
        state = "done" if 200 <= status < 300 else "rejected"
        store.settle(write.key, state=state, status=status, answer=answer)
        settled = store.write(write.key)
        (report.acknowledged if state == "done" else report.rejected).append(settled)
        if state == "done" and write.photo_file:
            Path(write.photo_file).unlink(missing_ok=True)
    return report


def _send_request(api: Api, write: Write) -> tuple[int, Any]:
    headers = {"If-Match": write.if_match} if write.if_match else None
    response = api.send(
        write.method, write.path, json=write.body, headers=headers, idempotency_key=write.key
    )
    return response.status_code, _answer(response)


def _send_photo(api: Api, store: Store, write: Write) -> tuple[int, Any]:
    data = Path(write.photo_file).read_bytes()
    photo_id = write.body["id"]
    last: tuple[int, Any] = (409, None)
    for _ in range(SLOTS_PER_FLUSH):
        slot = api.send(
            "POST", f"{API}/photos", json=write.body, idempotency_key=write.derived_key("slot")
        )
        if not slot.ok:
            return slot.status_code, _answer(slot)
        photo = slot.json()
        if photo["status"] == "verified":
            return slot.status_code, photo
        if photo["status"] == "rejected":
            return 422, photo
        if photo["status"] == "pending" and photo.get("upload"):
            sent = upload(api, photo["upload"], data, write.body["content_type"])
            if not sent.ok and sent.status_code != 409:
                # The store refused the bytes (most often: the slot expired). New slot.
                last = (sent.status_code, _answer(sent))
                write = store.next_round(write.key)
                continue
        done = api.send(
            "POST", f"{API}/photos/{photo_id}/complete", idempotency_key=write.derived_key("done")
        )
        if done.ok:
            return done.status_code, done.json()
        last = (done.status_code, _answer(done))
        if done.status_code == 409 and slug_of(problem_of(done)) == "conflict":
            # "The photo has not arrived yet": the bytes were lost on the way. Send again.
            write = store.next_round(write.key)
            continue
        return last
    return last


def upload(api: Api, instruction: dict[str, Any], data: bytes, content_type: str):
    """Send the bytes exactly as the slot says: a PUT with its headers, or a form POST with
    its fields and the file last. The API's own URLs take the bearer token; the object
    store's presigned ones must not."""
    url = instruction["url"]
    own = api.is_own(url)
    headers = dict(instruction.get("headers") or {})
    if instruction["method"] == "PUT":
        return api.send("PUT", url, data=data, headers=headers, auth=own)
    fields = dict(instruction.get("fields") or {})
    headers.pop("Content-Type", None)  # the form sets its own, with the boundary
    file_type = fields.get("Content-Type", content_type)
    return api.send(
        "POST",
        url,
        data=fields,
        files={"file": ("photo", data, file_type)},
        headers=headers,
        auth=own,
    )
