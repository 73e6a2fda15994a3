"""The strict JSON reader on its own: what it reads, what it refuses, and its depth count.

The depth is counted from the bytes, before parsing; these tests hold that count to the
real depth of the value, whatever strings (with brackets, quotes and backslashes) lie in it.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapi.core import jsonbody
from fieldapi.core.jsonbody import MAX_DEPTH, MalformedJson, loads


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def nested(levels: int, inner=None):
    value = inner
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


# Strings made to confuse a count of brackets: brackets, quotes and backslashes inside.
tricky_text = st.text(alphabet='[]{}"\\ ab', max_size=12)
values = st.recursive(
    st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=values, wrap=st.integers(min_value=0, max_value=MAX_DEPTH + 2))
def test_the_depth_counted_from_the_bytes_is_the_real_one(value, wrap):
    """Deep values (wrapped close to the bound) are read exactly when within it."""
    wrapped = nested(wrap, value)
    text = json.dumps(wrapped, ensure_ascii=wrap % 2 == 0)
    if depth(wrapped) > MAX_DEPTH:
        with pytest.raises(MalformedJson, match=f"{MAX_DEPTH} levels"):
            loads(text.encode())
    else:
        assert loads(text.encode()) == wrapped


@pytest.mark.parametrize(
    "text",
    [
        '["' + "[" * 100 + '"]',
        '["\\"' + "{" * 100 + '"]',
        '{"\\\\": "' + "[" * 100 + '"}',
        '["' + "]" * 100 + '", ' + json.dumps(nested(MAX_DEPTH - 1)) + "]",
    ],
    ids=["brackets in a string", "after an escaped quote", "after an escaped backslash", "closers"],
)
def test_brackets_inside_strings_do_not_count(text):
    assert loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '["\\\\", ' + json.dumps(nested(MAX_DEPTH)) + "]",
        '{"a\\"": ' + json.dumps(nested(MAX_DEPTH)) + "}",
        "[" * (MAX_DEPTH + 1),
    ],
    ids=["after a string ending in a backslash", "after an escaped quote", "unclosed"],
)
def test_nesting_after_tricky_strings_still_counts(text):
    with pytest.raises(MalformedJson, match=f"{MAX_DEPTH} levels"):
        loads(text.encode())


def test_a_long_body_is_counted_whole():
    """The first kilobytes are looked at first; what comes after them counts as much."""
    padding = [{"note": "[" * 50 + '\\"' + "{" * 50, "n": i} for i in range(200)]
    assert len(json.dumps(padding)) > 4 * 4096
    assert loads(json.dumps([padding, nested(MAX_DEPTH - 1)]).encode())[0] == padding
    with pytest.raises(MalformedJson, match=f"{MAX_DEPTH} levels"):
        loads(json.dumps([padding, nested(MAX_DEPTH)]).encode())


def test_a_string_across_the_first_look_hides_its_brackets():
    text = json.dumps({"a": "x" * 4090 + "[" * 200, "b": nested(MAX_DEPTH - 1)})
    assert loads(text.encode())["b"] == nested(MAX_DEPTH - 1)


def test_the_value_is_exact():
    assert loads(b'{"n": 9223372036854775807, "f": 0.1, "s": "\\u00e9"}') == {
        "n": 2**63 - 1,
        "f": 0.1,
        "s": "é",
    }
    assert type(loads(b"[1]")[0]) is int


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"a": 1, "a": 1}', '"a" appears twice'),
        (b'[{"b": {"\\u0061": 1, "a": 2}}]', '"a" appears twice'),
        (b"[9223372036854775808]", "64 bits"),
        (b"[-9223372036854775809]", "64 bits"),
        (b"[" + b"7" * 30 + b"]", "64 bits"),
        (b"[1e400]", "64 bits"),
        (b"[0." + b"5" * 200 + b"]", "64 bits"),
        (b"[NaN]", "not valid JSON"),
        (b"[-Infinity]", "not valid JSON"),
        (b'["\\ud800"]', "not valid JSON"),
        (b'["\xff"]', "not valid JSON"),
        (b"\xef\xbb\xbf[]", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1,]", "not valid JSON"),
        (b"[] []", "not valid JSON"),
    ],
)
def test_refusals_say_why(data, says):
    with pytest.raises(MalformedJson) as refused:
        loads(data)
    assert refused.value.status == 400
    assert refused.value.slug == "malformed-request"
    assert says in refused.value.detail


def test_text_is_read_like_bytes():
    assert loads('{"name": "水围"}') == {"name": "水围"}
    with pytest.raises(MalformedJson):
        loads('["\ud800"]')


def test_the_app_reads_with_it(app):
    assert isinstance(app.json, jsonbody.StrictJSONProvider)
    with pytest.raises(MalformedJson):
        app.json.loads('{"a": 1, "a": 2}')
