"""The recorder: sends a phone's requests to the app through its test client and writes
the chosen exchanges down, one JSON file each, with the few helpers every group of
exchanges shares (a bearer header, an upload slot request, a moment just past)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.photos.images import jpeg

REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key")
RESPONSE_HEADERS = (
    "Content-Type",
    "ETag",
    "Location",
    "Retry-After",
    "Allow",
    "Idempotent-Replayed",
)
API = "/api/v1"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class Recorder:
    """Sends requests to the app through its test client, writing the chosen ones down."""

    def __init__(self, app, out: Path) -> None:
        self.app = app
        self.client = app.test_client()
        self.out = out
        self.names: list[str] = []
        self._addresses = iter(range(1, 250))

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        data: bytes | None = None,
        query: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {"headers": dict(headers or {}), "query_string": query}
        if body is not None:
            kwargs["json"] = body
        elif data is not None:
            kwargs["data"] = data
        if address:
            kwargs["environ_base"] = {"REMOTE_ADDR": address}
        response = self.client.open(path, method=method, **kwargs)
        parsed = response.get_json(silent=True) if response.data else None
        return Answer(response.status_code, dict(response.headers), parsed)

    def record(self, name: str, title: str, method: str, path: str, **kwargs: Any) -> Answer:
        """Send the request and write the exchange to ``<name>.json``."""
        answer = self.send(method, path, **kwargs)
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k in REQUEST_HEADERS}
        request: dict[str, Any] = {"method": method, "path": urlsplit(path).path}
        if urlsplit(path).netloc:
            request["url"] = path
        if kwargs.get("query"):
            request["query"] = {k: str(v) for k, v in kwargs["query"].items()}
        if kwargs.get("body") is not None:
            headers.setdefault("Content-Type", "application/json")
        if kwargs.get("data") is not None:
            request["body_bytes"] = len(kwargs["data"])
        request["headers"] = headers
        if kwargs.get("body") is not None:
            request["body"] = kwargs["body"]
        response: dict[str, Any] = {
            "status": answer.status,
            "headers": {k: v for k, v in answer.headers.items() if k in RESPONSE_HEADERS},
        }
        if answer.body is not None:
            response["body"] = answer.body
        exchange = {"title": title, "request": request, "response": response}
        target = self.out / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(exchange, indent=2, ensure_ascii=False, default=str) + "\n")
        self.names.append(name)
        return answer

    # Unrecorded steps the examples need

    def login(self, username: str, password: str) -> dict[str, Any]:
        address = f"10.30.0.{next(self._addresses)}"
        answer = self.send(
            "POST",
            f"{API}/auth/login",
            body={"username": username, "password": password},
            address=address,
        )
        assert answer.status == 200, answer.body
        return answer.body

    def photo(self, headers: dict[str, str], seed: int) -> str:
        """A verified photo, uploaded and completed the way its slot says."""
        data = jpeg(160, 120, seed=seed)
        slot = self.send("POST", f"{API}/photos", headers=headers, body=slot_request(data))
        assert slot.status == 201, slot.body
        upload = slot.body["upload"]
        sent = self.send(
            upload["method"], upload["url"], headers={**headers, **upload["headers"]}, data=data
        )
        assert sent.status in (200, 201, 204), sent.body
        done = self.send("POST", f"{API}/photos/{slot.body['id']}/complete", headers=headers)
        assert done.status == 200, done.body
        return slot.body["id"]


def slot_request(data: bytes) -> dict[str, Any]:
    """The body that asks for an upload slot for these JPEG bytes, under a new id."""
    return {
        "id": str(uuid.uuid4()),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "content_type": "image/jpeg",
    }


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for the access token of a sign-in."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def recent(minutes: int = 10) -> str:
    """A moment a few minutes ago, as the phone writes times."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
