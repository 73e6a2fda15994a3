"""Errors: invalid fields, an unknown query parameter, a bad cursor, no token, a method
the address does not take, a body that is not JSON, and one over the size limit."""

from __future__ import annotations

from mobile_contract.examples.recorder import API, Recorder


def errors(rec: Recorder, world, as_user) -> None:
    gw1 = as_user["gw1"]
    rec.record(
        "errors/validation",
        "Invalid fields: each one named by a JSON Pointer",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body={"code": "FT-SW-0013", "grid_id": "not-a-uuid", "location": {"lat": 123}},
    )
    rec.record(
        "errors/unknown-query-parameter",
        "A query parameter the operation does not take is refused",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid": str(world.areas["G1"])},
    )
    rec.record(
        "errors/bad-cursor",
        "A cursor that was not given by the server",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"cursor": "not-a-cursor"},
    )
    rec.record("errors/unauthenticated", "No bearer token", "GET", f"{API}/me")
    rec.record(
        "errors/method-not-allowed", "A method the address does not take", "DELETE", f"{API}/me",
        headers=gw1,
    )  # fmt: skip
    rec.record(
        "errors/unsupported-media-type",
        "A body that is not JSON",
        "POST",
        f"{API}/buildings",
        headers={**gw1, "Content-Type": "text/plain"},
        data=b"code=FT-SW-0014",
    )
    limit = rec.app.extensions["fieldapi.settings"].max_request_bytes
    rec.record(
        "errors/payload-too-large",
        "A body over the request size limit",
        "POST",
        f"{API}/buildings",
        headers={**gw1, "Content-Type": "application/json"},
        data=b'{"code": "' + b"x" * limit + b'"}',
    )
