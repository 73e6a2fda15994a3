"""How sync's objects become JSON: orjson's options for the objects shaped in Python, and
JSON text built by the database (``Joined``) written into the answer as it is."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


@dataclass(frozen=True)
class Joined:
    """Several objects' JSON, built by the database, joined by commas."""

    text: str
    count: int


def as_json_list(items: list) -> list | orjson.Fragment:
    """A list of objects, some of them Joined, as something orjson writes as one array."""
    if not any(isinstance(item, Joined) for item in items):
        return items
    parts = [
        item.text if isinstance(item, Joined) else orjson.dumps(item, option=JSON_OPTIONS).decode()
        for item in items
    ]
    return orjson.Fragment("[" + ",".join(parts) + "]")
