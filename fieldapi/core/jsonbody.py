"""One reader for every JSON body the app reads: strict, bounded, and cheap on hostile input.

Every request body is read here, once (through Flask's JSON provider, which webargs and
``request.get_json`` both reach), and refused with a 400 ``malformed-request`` when it is
not JSON this API can take:

- not JSON at all, invalid UTF-8, a byte-order mark, ``NaN`` or ``Infinity``;
- arrays and objects nested deeper than ``MAX_DEPTH`` levels;
- an integer outside 64 bits (``INT_MIN`` … ``INT_MAX``: wider than any field of the
  contract), a number that is infinite as a double (``1e400``), or a number written with
  more than ``MAX_NUMBER_CHARS`` characters; all refused from their text, before Python
  turns them into numbers;
- an object naming the same key twice, at any depth (which one would count is up to the
  reader, so neither is guessed).

How, cheaply, in three steps:

1. The nesting is measured on the bytes, before anything is built. A body with no more
   than ``MAX_DEPTH`` openers cannot nest deeper (most bodies stop there). Otherwise the
   brackets outside strings are picked out and summed in C (``bytes.translate``,
   ``itertools.accumulate``) up to the first level too deep, the first kilobytes before
   the rest: a megabyte of ``[[[[`` is refused in well under a millisecond. A parser
   refusing at its own limit would first build every list up to it (orjson stops at
   1,024 levels, and a megabyte of 1,000-deep arrays keeps it busy for a quarter of a
   second).
2. orjson (in Rust) checks the syntax and the UTF-8, lone surrogates included.
3. The standard library's decoder reads the value, its hooks seeing every number's text
   and every object's keys.

A normal body pays the count and two fast readings of a few kilobytes: tens of
microseconds. ``python -m bench.json_bodies`` measures it.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from itertools import accumulate, filterfalse
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

from fieldapi.core.problems import BadRequest

# Arrays and objects inside each other: a building file nests five or six levels.
MAX_DEPTH = 64
# A 64-bit signed integer: what every integer column and field of the contract fits in.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# The longest number written (a double needs 24 characters; decimal expansions a little more).
MAX_NUMBER_CHARS = 100

_INT_DIGITS = len(str(INT_MAX))
_NOT_MARKS = bytes(set(range(256)) - set(b'"[]{}'))
_FIRST_LOOK = 4096
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class MalformedJson(BadRequest):
    """The body is not JSON this API reads; the detail says why, for the phone's developer."""


def _not_json(exc: orjson.JSONDecodeError) -> MalformedJson:
    message = exc.msg
    if message.startswith("depth limit"):
        return _too_deep()
    if "infinity" in message:
        return _number_out_of_range()
    return MalformedJson(
        f"The body is not valid JSON: {message} (line {exc.lineno}, column {exc.colno})."
    )


def _too_deep() -> MalformedJson:
    return MalformedJson(
        f"The body nests arrays and objects more than {MAX_DEPTH} levels deep. "
        "Send the data flatter."
    )


def _number_out_of_range() -> MalformedJson:
    return MalformedJson(
        "A number in the body is out of range. Integers must fit in 64 bits "
        f"({INT_MIN} to {INT_MAX}); other numbers must be finite doubles, written with at "
        f"most {MAX_NUMBER_CHARS} characters."
    )


def _nests_too_deep(data: bytes) -> bool:
    """Whether arrays and objects nest deeper than ``MAX_DEPTH``, from the bytes alone."""
    # Hostile nesting mostly starts at once, and a beginning nests no deeper than the whole:
    # the first kilobytes settle it without going through the rest.
    head = data[:_FIRST_LOOK]
    if _openers(head) > MAX_DEPTH and _levels_exceed_bound(head):
        return True
    if len(data) <= _FIRST_LOOK or _openers(data) <= MAX_DEPTH:
        return False  # it cannot nest deeper than it has openers
    return _levels_exceed_bound(data)


def _openers(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{")


def _levels_exceed_bound(data: bytes) -> bool:
    # Escaped backslashes and quotes go first: every quote left opens or closes a string.
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Only quotes and brackets matter. Two quotes side by side enclose no bracket, so they go
    # as a pair (which leaves every bracket on its side of the strings): most strings vanish.
    marks = unescaped.translate(None, delete=_NOT_MARKS).replace(b'""', b"")
    outside = b"".join(marks.split(b'"')[::2])
    # Each opener one level in (+1), each closer one out (-1, as a signed byte).
    steps = array("b", outside.translate(_STEPS))
    return any(filterfalse(MAX_DEPTH.__ge__, accumulate(steps)))


def _integer(text: str) -> int:
    if len(text) > _INT_DIGITS + 1:  # the sign
        raise _number_out_of_range()
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise _number_out_of_range()
    return number


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _number_out_of_range()
    number = float(text)
    if not math.isfinite(number):
        raise _number_out_of_range()
    return number


def _constant(text: str) -> Any:
    raise MalformedJson(f"The body is not valid JSON: {text} is not a JSON value.")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        counts = Counter(key for key, _value in pairs)
        twice = next(key for key, count in counts.items() if count > 1)
        raise MalformedJson(
            f"The key {json.dumps(twice, ensure_ascii=False)} appears twice in one object. "
            "Send each key once."
        )
    return obj


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_int=_integer,
    parse_float=_float,
    parse_constant=_constant,
)


def loads(data: bytes | bytearray | str) -> Any:
    """The JSON value of ``data``, or ``MalformedJson`` (400) saying what is wrong with it."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if _nests_too_deep(raw):
        raise _too_deep()
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(exc) from None
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except RecursionError:  # only if the count above were wrong: still the client's fault
        raise _too_deep() from None


# Answers are written by orjson: keys sorted (as Flask's own writer does), UTF-8 as it is.
DUMP_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_FLASK_DEFAULT = DefaultJSONProvider.default


def dump(obj: Any) -> bytes:
    """JSON text of an answer, as every answer of the app is written; what orjson does not
    know (Decimal, objects with __html__) as Flask would write it."""
    return orjson.dumps(obj, default=_FLASK_DEFAULT, option=DUMP_OPTIONS)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, reading with ``loads`` above and writing with orjson: every
    ``jsonify`` and every schema's answer goes through ``dumps``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("the strict JSON reader takes no options")
        return loads(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # asked for a layout (indent, key order): Flask's own writer
            return super().dumps(obj, **kwargs)
        return dump(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dump(obj), mimetype=self.mimetype)
