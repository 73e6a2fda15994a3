"""A phone: its database, its session, and what its user does in the field.

Everything the user does is queued first (``take_photo``, ``record_inspection``,
``submit_inspection``, ``report_hazard``, ``rectify``, ``decide``, ``resubmit``) with ids the
phone chooses, so work goes on in a stairwell with no signal; ``flush`` sends the queue
when the network is back, and ``sync`` refreshes the phone's copy of its area. Reads that
need the server now (a submission's current ETag before deciding on it) go through ``read``.

    phone = Phone("~/.fieldapi-phone", server="https://fieldapi.example")
    phone.sign_in("mgr1", password)
    photo = phone.take_photo(jpeg_bytes)
    inspection = phone.record_inspection(building_id=b, kind="self_check", items=[
        {"code": "EXT-01", "result": "pass", "photo_ids": [photo]}])
    phone.submit_inspection(inspection)
    phone.flush()
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mobile_contract.client.api import API, Api, ClientError, Refused, Tokens
from mobile_contract.client.backoff import Backoff
from mobile_contract.client.outbox import FlushReport, flush
from mobile_contract.client.store import Store, Write
from mobile_contract.client.sync import SyncReport, sync

DATABASE = "phone.sqlite3"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Phone:
    """The reference client, keeping its state under ``data_dir``."""

    def __init__(
        self,
        data_dir: str | Path,
        server: str | None = None,
        *,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        **api_options: Any,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.store = Store(self.data_dir / DATABASE)
        server = server or self.store.setting("server")
        if not server:
            raise ClientError("No server yet: give its URL (--server) the first time.")
        if server != self.store.setting("server"):
            self.store.set_setting("server", server)
        saved = self.store.setting("tokens")
        self.api = Api(
            server,
            backoff=backoff,
            timeout=timeout,
            tokens=Tokens(**saved) if saved else None,
            on_tokens=self._keep_tokens,
            **api_options,
        )
        self.api.user = self.store.setting("user")

    def close(self) -> None:
        self.store.close()

    def _keep_tokens(self, tokens: Tokens | None) -> None:
        # A real phone keeps these in its keystore; the password is never stored.
        self.store.set_setting("tokens", tokens.__dict__ if tokens else None)

    # ------------------------------------------------------------------ session

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        body = self.api.sign_in(username, password)
        self.store.set_setting("user", body.get("user"))
        return body["user"]

    def sign_out(self) -> None:
        self.api.sign_out()
        self.store.set_setting("user", None)

    @property
    def user(self) -> dict[str, Any] | None:
        return self.api.user

    # ------------------------------------------------------------------ queued writes

    def take_photo(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """Keep the photo's bytes on the phone and queue its upload; the photo's id."""
        photo_id = str(uuid.uuid4())
        folder = self.data_dir / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / photo_id
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        body = {
            "id": photo_id,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "content_type": content_type,
        }
        self.store.enqueue(
            kind="photo",
            method="POST",
            path=f"{API}/photos",
            body=body,
            object_type="photo",
            object_id=photo_id,
            photo_file=str(path),
        )
        return photo_id

    def _queue(
        self,
        method: str,
        path: str,
        body: Any,
        object_type: str,
        object_id: str,
        if_match: str | None = None,
    ) -> Write:
        return self.store.enqueue(
            kind="request",
            method=method,
            path=path,
            body=body,
            if_match=if_match,
            object_type=object_type,
            object_id=object_id,
        )

    def record_inspection(
        self,
        *,
        building_id: str,
        kind: str,
        items: list[dict[str, Any]],
        location: dict[str, float] | None = None,
        performed_at: str | None = None,
        note: str | None = None,
        template_id: str | None = None,
    ) -> str:
        """Queue a draft inspection (POST /inspections); its id."""
        inspection_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "id": inspection_id,
            "building_id": str(building_id),
            "kind": kind,
            "performed_at": performed_at or now_iso(),
            "items": items,
        }
        if location is not None:
            body["location"] = location
        if note is not None:
            body["note"] = note
        if template_id is not None:
            body["template_id"] = str(template_id)
        self._queue("POST", f"{API}/inspections", body, "inspection", inspection_id)
        return inspection_id

    def submit_inspection(self, inspection_id: str) -> Write:
        """Queue the submit of an inspection (draft or returned) into review."""
        path = f"{API}/inspections/{inspection_id}/submit"
        return self._queue("POST", path, None, "inspection", inspection_id)

    def report_hazard(
        self,
        *,
        building_id: str,
        category: str,
        severity: str,
        description: str,
        photo_ids: list[str],
        location: dict[str, float] | None = None,
    ) -> str:
        """Queue a hazard seen on site (POST /hazards); its id."""
        hazard_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "id": hazard_id,
            "building_id": str(building_id),
            "category": category,
            "severity": severity,
            "description": description,
            "photo_ids": photo_ids,
        }
        if location is not None:
            body["location"] = location
        self._queue("POST", f"{API}/hazards", body, "hazard", hazard_id)
        return hazard_id

    def rectify(self, hazard_id: str, *, note: str, photo_ids: list[str]) -> str:
        """Queue a rectification of a hazard with its after-photos; its id."""
        rectification_id = str(uuid.uuid4())
        body = {"id": rectification_id, "note": note, "photo_ids": photo_ids}
        path = f"{API}/hazards/{hazard_id}/rectifications"
        self._queue("POST", path, body, "rectification", rectification_id)
        return rectification_id

    def decide(
        self,
        submission_id: str,
        decision: str,
        *,
        etag: str,
        reason: str | None = None,
        items: list[str] | None = None,
    ) -> Write:
        """Queue a review decision on the version of the submission the user saw (``etag``)."""
        body: dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        if items:
            body["items"] = items
        path = f"{API}/submissions/{submission_id}/decisions"
        return self._queue("POST", path, body, "submission", submission_id, if_match=etag)

    def resubmit(self, submission_id: str, *, etag: str, **changes: Any) -> Write:
        """Queue returned work going back into review, amended (note, description, photos)."""
        path = f"{API}/submissions/{submission_id}/resubmit"
        return self._queue("POST", path, changes, "submission", submission_id, if_match=etag)

    # ------------------------------------------------------------------ the network

    def flush(self) -> FlushReport:
        """Send the outbox, oldest first."""
        return flush(self.api, self.store)

    def sync(self, *, limit: int = 500) -> SyncReport:
        """Bring the phone's copy of its area up to date from the stored cursor."""
        return sync(self.api, self.store, limit=limit)

    def read(self, path: str, **params: Any) -> tuple[Any, str | None]:
        """GET an API path now (retried like any request); the body and its ETag."""
        response = self.api.send("GET", path, params=params or None)
        if not response.ok:
            raise Refused(response)
        return response.json(), response.headers.get("ETag")

    def outbox(self, state: str | None = None) -> list[Write]:
        return self.store.writes(state)
