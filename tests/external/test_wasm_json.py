"""Guest FileInfo JSON: the fast path (orjson, Go's exact field names and types) gives what the
general one (json, names matched case-insensitively) does, and leaves it everything else."""

from __future__ import annotations

import json

import pytest

from pfs.external.wasm.abi import (
    _go_info,
    _info_from_fields,
    guest_json,
    info_from_json,
    info_from_text,
    infos_from_text,
)
from pfs.fs.errors import FSError

PLAIN = {"Name": "a", "Size": 3, "Mode": 420, "ModTime": "2024-05-06T07:08:09.123456789Z",
         "IsDir": False}
META = {"Name": "m", "Type": "t", "Content": {"k": "v"}}

OBJECTS = [
    PLAIN,
    {**PLAIN, "Meta": None},
    {**PLAIN, "Meta": META},
    {**PLAIN, "Meta": {**META, "Content": None}},
    {**PLAIN, "Meta": {**META, "Content": {}}},
    {**PLAIN, "ModTime": "0001-01-01T00:00:00Z", "IsDir": True, "Name": ""},
    {**PLAIN, "ModTime": ""},
    {**PLAIN, "ModTime": "not a time"},
    {**PLAIN, "Mode": -1, "Size": 1 << 63},
    {**PLAIN, "Mode": 1 << 40},
    # Each of these leaves the fast path.
    {**PLAIN, "Meta": {**META, "Content": {"n": 1, "f": 1.5, "b": True, "z": None}}},
    {**PLAIN, "Meta": {**META, "Content": {1: "int key"}}},
    {**PLAIN, "Meta": {**META, "Extra": 1}},
    {**PLAIN, "Meta": {"name": "lower", "Type": "t", "Content": None}},
    {**PLAIN, "Meta": {**META, "Name": 5}},
    {**PLAIN, "Meta": "text"},
    {**PLAIN, "Meta": {}},
    {**PLAIN, "Size": 3.0},
    {**PLAIN, "Size": True},
    {**PLAIN, "Size": None},
    {**PLAIN, "Size": "12"},
    {**PLAIN, "Mode": 420.7},
    {**PLAIN, "ModTime": 1700000000.5},
    {**PLAIN, "ModTime": None},
    {**PLAIN, "IsDir": 1},
    {**PLAIN, "IsDir": None},
    {**PLAIN, "Name": None},
    {**PLAIN, "Name": 7},
    {**PLAIN, "name": "also lower"},
    {**PLAIN, "Extra": 1},
    {k: v for k, v in PLAIN.items() if k != "IsDir"},
    {k.lower(): v for k, v in PLAIN.items()},
    {},
]


def _same(a, b) -> None:
    assert (a, type(a.meta.content)) == (b, type(b.meta.content))


def _agrees(fast, general) -> None:
    """A fast path may decline (None); where it answers, it answers as the general path does."""
    if fast is not None:
        _same(fast, general)


@pytest.mark.parametrize("obj", OBJECTS, ids=range(len(OBJECTS)))
def test_fast_path_gives_what_the_general_one_does(obj):
    general = _info_from_fields(obj)
    _agrees(_go_info(obj), general)
    _same(info_from_json(obj), general)


def test_fast_path_takes_the_plain_shapes():
    for index in range(10):
        assert _go_info(OBJECTS[index]) is not None, OBJECTS[index]
    for index in range(10, len(OBJECTS)):
        assert _go_info(OBJECTS[index]) is None, OBJECTS[index]


def _general_text(text: bytes):
    """What a stat answer decodes to without the fast path (or the error it raises)."""
    try:
        return info_from_json(guest_json(text, "stat"))
    except FSError as exc:
        return exc.message


PLAIN_TEXT = json.dumps(PLAIN).encode()
TEXTS = [
    PLAIN_TEXT,
    json.dumps({**PLAIN, "Meta": META}).encode(),
    json.dumps({**PLAIN, "Name": "é \u2603 \U0001f600"}, ensure_ascii=False).encode(),
    json.dumps({**PLAIN, "Name": "é \u2603 \U0001f600"}).encode(),
    b' \n{"Name":"a","Size":-0,"Mode":420,"ModTime":"","IsDir":false}\t',
    b'{"Name":"a","Size":18446744073709551615,"Mode":420,"ModTime":"","IsDir":false}',
    # Integers beyond 64 bits: json keeps them, orjson would make them floats.
    b'{"Name":"a","Size":123456789012345678901234567890,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"a","Size":-9223372036854775809,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"a","Size":1,"Mode":4294967297,"ModTime":"","IsDir":false,"Meta":{"Name":"","Type"'
    b':"","Content":{"n":123456789012345678901234567890}}}',
    b'{"Name":"a","Size":1e2,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"a","Size":NaN,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"a","Size":1,"Mode":420,"ModTime":Infinity,"IsDir":false}',
    b'{"Name":"a","Name":"b","Size":1,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"\\ud800","Size":1,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"\xff\xfe","Size":1,"Mode":420,"ModTime":"","IsDir":false}',
    b'\xef\xbb\xbf' + PLAIN_TEXT,
    b'{"Name":"a\tb","Size":1,"Mode":420,"ModTime":"","IsDir":false}',
    b'{"Name":"a","Size":1,"Mode":420,"ModTime":"","IsDir":false,}',
    b'{"Name":"a","Size":01,"Mode":420,"ModTime":"","IsDir":false}',
    PLAIN_TEXT + b" x",
    b"null",
    b"[]",
    b"",
    b"{",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_stat_text_fast_path_gives_what_json_does(text):
    _agrees(info_from_text(text), _general_text(text))


def test_stat_text_fast_path_takes_plain_text_only():
    assert info_from_text(TEXTS[0]) is not None
    assert [i for i, text in enumerate(TEXTS) if info_from_text(text) is not None] == [
        0, 1, 2, 3, 4, 5, 12]


def test_bad_json_keeps_json_errors():
    with pytest.raises(FSError, match=r"^failed to unmarshal stat result: Expecting value: "
                                      r"line 1 column 1 \(char 0\)$"):
        guest_json(b"nope", "stat")


def test_listing_text_fast_path():
    entries = [PLAIN, {**PLAIN, "Name": "b", "Meta": META}]
    text = json.dumps(entries).encode()
    fast = infos_from_text(text)
    assert fast is not None
    for a, b in zip(fast, [info_from_json(e) for e in entries], strict=True):
        _same(a, b)
    for odd in ([*entries, {"name": "lower"}], {"Name": "not a list"}, [1], []):
        listed = infos_from_text(json.dumps(odd).encode())
        assert listed == ([] if odd == [] else None)
    assert infos_from_text(b"[1") is None
