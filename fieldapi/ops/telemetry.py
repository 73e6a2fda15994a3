"""Per request: its id (``X-Request-ID``), its count and time in the metrics, its log line.

The hooks stand outside all others: the first ``before_request`` and the last
``after_request``, so the status counted is the one sent (after the commit, which may still
turn an answer into a 412 or a 500) and every answer carries its request id, errors too.
"""

from __future__ import annotations

import re
import uuid
from time import perf_counter

from flask import Flask, Response, g, request

from fieldapi.ops import logs, metrics

HEADER = "X-Request-ID"
# A client's id is kept when it is plain (what proxies and phones send: UUIDs, hex, dotted).
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(given: str | None) -> str:
    return given if given and SANE_ID.fullmatch(given) else uuid.uuid4().hex


def _begin() -> None:
    here = g._get_current_object()  # one context lookup rather than one per attribute
    here.request_started = perf_counter()
    here.request_id = request_id_from(request.headers.get(HEADER))


def _user_id(here) -> str | None:
    actor = getattr(here, "actor", None)
    if actor is not None:
        return str(actor.user_id)
    refresh = getattr(here, "refresh_claims", None)
    return str(refresh[0]) if refresh else None


def _finish(response: Response) -> Response:
    here = g._get_current_object()
    request_id = getattr(here, "request_id", None) or request_id_from(None)
    response.headers[HEADER] = request_id
    started = here.pop("request_started", None)
    if started is None:  # counted already: this is the error answer replacing that one
        return response
    seconds = perf_counter() - started
    current = request._get_current_object()
    rule = current.url_rule
    route = rule.rule if rule is not None else metrics.UNMATCHED
    method = metrics.method_label(current.method)
    status = response.status_code
    metrics.observe_request(route, method, status, seconds)
    logs.request_line(
        request_id=request_id,
        user_id=_user_id(here),
        method=method,
        route=route,
        status=status,
        duration_ms=round(seconds * 1000, 3),
    )
    return response


def install(app: Flask) -> None:
    """Call from ``create_app``; where does not matter, the hooks put themselves outermost."""
    logs.configure()
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)
