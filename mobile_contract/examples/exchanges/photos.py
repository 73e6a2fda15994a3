"""Photos: ask for an upload slot, send the bytes, complete, read; a photo not yet
attached is hidden from others, and bytes that do not match what was declared are refused."""

from __future__ import annotations

import hashlib

from mobile_contract.examples.recorder import API, Recorder, slot_request
from tests.photos.images import jpeg


def photos(rec: Recorder, as_user) -> None:
    gw1 = as_user["gw1"]
    data = jpeg(640, 480, seed=7)
    slot_body = slot_request(data)
    slot = rec.record(
        "photos/slot",
        "Ask for an upload slot, naming the photo's hash and size",
        "POST",
        f"{API}/photos",
        headers=gw1,
        body=slot_body,
    )
    upload = slot.body["upload"]
    rec.record(
        "photos/upload",
        "Send the bytes as the slot says (here the API's own URL, with the bearer token)",
        upload["method"],
        upload["url"],
        headers={**gw1, **upload["headers"]},
        data=data,
    )
    photo_url = f"{API}/photos/{slot.body['id']}"
    rec.record(
        "photos/complete",
        "Complete the upload: the photo is verified",
        "POST",
        f"{photo_url}/complete",
        headers=gw1,
    )
    rec.record("photos/read", "Read a photo", "GET", photo_url, headers=gw1)
    rec.record(
        "photos/read-not-visible",
        "Before it is attached to a record, only its uploader (and admins) see a photo",
        "GET",
        photo_url,
        headers=as_user["officer1"],
    )
    sent = jpeg(640, 480, seed=8)
    declared = {**slot_request(sent), "sha256": hashlib.sha256(b"other bytes").hexdigest()}
    other = rec.send("POST", f"{API}/photos", headers=gw1, body=declared)
    assert other.status == 201, other.body
    upload = other.body["upload"]
    rec.send(upload["method"], upload["url"], headers={**gw1, **upload["headers"]}, data=sent)
    rec.record(
        "photos/complete-mismatch",
        "Bytes that do not match the declared sha256 or size are refused and removed",
        "POST",
        f"{API}/photos/{other.body['id']}/complete",
        headers=gw1,
    )
