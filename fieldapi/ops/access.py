"""Who may read the operations routes: a scraper with the metrics token, or this host.

With ``FIELDAPI_METRICS_TOKEN`` set, only ``Authorization: Bearer <that token>`` opens them
(compared in constant time). Unset, only a caller on loopback does: the address the socket
was opened from, never what a forwarded header claims, and never a request that came
through a proxy (a proxy on this host would make every caller look local).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import current_app, request

from fieldapi.core.problems import Forbidden, Problem

# Headers a proxy adds; a request carrying one did not start on this host.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def peer_address() -> str:
    """The socket's peer, as the server saw it, before ProxyFix rewrote ``remote_addr``."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def scraper_gate() -> None:
    """Run by the request gate for routes that declare ``SCRAPER``."""
    expected = current_app.extensions["fieldapi.settings"].metrics_token
    if expected:
        given = _bearer()
        if given is None:
            raise Problem(
                "Send the metrics token as a bearer token.",
                slug="authentication-required",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Forbidden("This token does not open the metrics.")
        return
    if not is_loopback(peer_address()) or any(name in request.headers for name in FORWARDED):
        raise Forbidden(
            "The metrics are open to callers on this host only, unless a metrics token is set."
        )
