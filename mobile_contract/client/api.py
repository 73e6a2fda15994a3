"""The HTTP side of the phone: one request at a time, retried the way the contract expects.

``Api.send`` sends one request and keeps sending it while the answer is "not now"
(see ``backoff``), with the same ``Idempotency-Key`` every time, so the server can tell a
retry from new work and replay its first answer. It signs requests with the access token,
refreshes the session when the token has expired, and signs in again with the remembered
password if the refresh token itself was refused. What it sees is counted in ``Counters``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from mobile_contract.client.backoff import Backoff, parse_retry_after, should_retry

API = "/api/v1"
# Refresh a little before the access token runs out, not after a wasted request.
EXPIRY_MARGIN = 10.0
NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class ClientError(Exception):
    """Base of what the reference client raises."""


class Unreachable(ClientError):
    """The server could not be reached, or kept answering "not now": try again later."""


class SignedOut(ClientError):
    """No session, and no password to start one: sign in again."""


class Refused(ClientError):
    """The server refused the request for what it is (a 4xx that retrying cannot change)."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.problem = problem_of(response) or {}
        super().__init__(f"{self.status} {self.problem.get('title') or response.reason}")

    @property
    def slug(self) -> str | None:
        return slug_of(self.problem)


def problem_of(response: requests.Response) -> dict[str, Any] | None:
    """The RFC 9457 problem body of an error answer, if it has one."""
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def slug_of(problem: dict[str, Any] | None) -> str | None:
    """The stable part of a problem's ``type``: clients match on it, never on titles."""
    if not problem or not isinstance(problem.get("type"), str):
        return None
    return problem["type"].rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float  # time.time() when the access token runs out

    @classmethod
    def from_answer(cls, body: dict[str, Any], now: float | None = None) -> Tokens:
        now = time.time() if now is None else now
        return cls(body["access_token"], body["refresh_token"], now + float(body["expires_in"]))


@dataclass
class Counters:
    """What one client saw on the wire."""

    requests: int = 0
    retries: int = 0
    network_errors: int = 0
    replays: int = 0  # answers marked Idempotent-Replayed: true
    in_progress: int = 0  # 409 idempotency-in-progress
    refreshes: int = 0
    sign_ins: int = 0
    server_errors: list[str] = field(default_factory=list)  # every 5xx: "METHOD path status body"


class Api:
    """The API at ``base_url`` (scheme, host and port; paths carry ``/api/v1``)."""

    def __init__(
        self,
        base_url: str,
        *,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        tokens: Tokens | None = None,
        on_tokens: Callable[[Tokens | None], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.max_wait = max_wait
        self.sleep = sleep
        self.tokens = tokens
        self.on_tokens = on_tokens
        self.counters = Counters()
        self.http = requests.Session()
        self.user: dict[str, Any] | None = None
        self._password: tuple[str, str] | None = None  # kept in memory only, to sign in again

    # ------------------------------------------------------------------ sending

    def url(self, path: str) -> str:
        """An absolute URL for ``path``, which may be relative to the API's base."""
        return urljoin(self.base_url, path)

    def is_own(self, url: str) -> bool:
        """True for URLs of the API itself (they take the bearer token), not the object store."""
        mine, theirs = urlsplit(self.base_url), urlsplit(self.url(url))
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        auth: bool = True,
    ) -> requests.Response:
        """Send until the answer is final; return it (2xx, 3xx or a 4xx that means "no").

        Raises ``Unreachable`` when the attempts run out or the server asks for a longer
        wait than ``max_wait``. A write retried here carries the same Idempotency-Key.
        """
        if method == "POST" and idempotency_key is None and self.is_own(path):
            idempotency_key = str(uuid.uuid4())
        renewed = False
        retry = 0
        while True:
            sent_headers = dict(headers or {})
            if idempotency_key is not None:
                sent_headers["Idempotency-Key"] = idempotency_key
            if auth:
                sent_headers["Authorization"] = f"Bearer {self._access_token()}"
            self.counters.requests += 1
            retry_after = None
            try:
                response = self.http.request(
                    method,
                    self.url(path),
                    json=json,
                    data=data,
                    files=files,
                    params=params,
                    headers=sent_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except NETWORK_ERRORS as exc:
                self.counters.network_errors += 1
                reason = f"{type(exc).__name__}: {exc}"
            else:
                self._note(method, path, response)
                slug = slug_of(problem_of(response))
                if response.status_code == 401 and auth and not renewed:
                    # The access token ran out (or was revoked): renew the session, once.
                    renewed = True
                    self.renew()
                    continue
                if not should_retry(response.status_code, slug):
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                reason = f"{response.status_code} {slug or response.reason}"
            retry += 1
            if retry >= self.backoff.attempts:
                raise Unreachable(f"{method} {path}: gave up after {retry} attempts ({reason})")
            wait = self.backoff.delay(retry, retry_after)
            if wait > self.max_wait:
                raise Unreachable(f"{method} {path}: the server asks to wait {wait:.0f} s")
            self.counters.retries += 1
            self.sleep(wait)

    def _note(self, method: str, path: str, response: requests.Response) -> None:
        if response.headers.get("Idempotent-Replayed", "").lower() == "true":
            self.counters.replays += 1
        if response.status_code == 409 and slug_of(problem_of(response)) in (
            "idempotency-in-progress",
        ):
            self.counters.in_progress += 1
        if response.status_code >= 500:
            self.counters.server_errors.append(
                f"{method} {path} {response.status_code} {response.text[:500]}"
            )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``send``, then the JSON body of a 2xx; a refusal raises ``Refused``."""
        response = self.send(method, path, **kwargs)
        if not response.ok:
            raise Refused(response)
        return response.json() if response.content else None

    # ------------------------------------------------------------------ the session

    def sign_in(self, username: str, password: str, *, remember: bool = True) -> dict[str, Any]:
        """POST /auth/login. With ``remember`` the password stays in memory (never on disk)
        so that a session the server ended can be started again without asking."""
        body = self.json(
            "POST",
            f"{API}/auth/login",
            json={"username": username, "password": password},
            auth=False,
        )
        self.counters.sign_ins += 1
        self._set_tokens(Tokens.from_answer(body))
        self.user = body.get("user")
        self._password = (username, password) if remember else None
        return body

    def renew(self) -> None:
        """Exchange the refresh token for new tokens; sign in again if it is refused."""
        if self.tokens is not None:
            response = self.send(
                "POST",
                f"{API}/auth/refresh",
                headers={"Authorization": f"Bearer {self.tokens.refresh_token}"},
                auth=False,
            )
            if response.ok:
                self.counters.refreshes += 1
                self._set_tokens(Tokens.from_answer(response.json()))
                return
            if response.status_code != 401:
                raise Refused(response)
            self._set_tokens(None)
        if self._password is None:
            raise SignedOut("The session has ended; sign in again.")
        self.sign_in(*self._password)

    def sign_out(self) -> None:
        """POST /auth/logout: both tokens stop working, on every worker."""
        if self.tokens is None:
            return
        with_refresh = {"refresh_token": self.tokens.refresh_token}
        try:
            self.send("POST", f"{API}/auth/logout", json=with_refresh)
        finally:
            self._set_tokens(None)
            self._password = None

    def _access_token(self) -> str:
        if self.tokens is None or self.tokens.expires_at - EXPIRY_MARGIN < time.time():
            self.renew()
        assert self.tokens is not None
        return self.tokens.access_token

    def _set_tokens(self, tokens: Tokens | None) -> None:
        self.tokens = tokens
        if self.on_tokens is not None:
            self.on_tokens(tokens)
