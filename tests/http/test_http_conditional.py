"""pfs.http.conditional: RFC 9110's precondition order, tag comparison and dates."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from pfs.fs.fileinfo import FileInfo, ReadEffect
from pfs.http.conditional import Preconditions, etag, http_date, validators

SECOND = 1_000_000_000
FILE = FileInfo("f", size=5, mtime_ns=1_700_000_000 * SECOND + 123)
TAG = etag(FILE)


def conditions(**headers: str) -> Preconditions | None:
    return Preconditions.of(
        [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    )


def test_the_tag_is_size_and_version_else_size_and_mtime():
    assert TAG == f'"5-{FILE.mtime_ns:x}"'
    assert etag(FileInfo("f", size=16, version="abc")) == '"10-abc"'


def test_no_conditional_header_costs_nothing():
    assert conditions(accept="*/*") is None
    assert conditions(if_modified_since="not a date") is None  # ignored, as RFC 9110 says


@pytest.mark.parametrize(
    "headers, reading, expected",
    [
        ({"if_match": TAG}, False, None),
        ({"if_match": f'"x", {TAG}'}, False, None),
        ({"if_match": '"x"'}, False, 412),
        ({"if_match": "W/" + TAG}, False, 412),  # strong comparison
        ({"if_match": "*"}, False, None),
        ({"if_none_match": TAG}, True, 304),
        ({"if_none_match": "W/" + TAG}, True, 304),  # weak comparison
        ({"if_none_match": TAG}, False, 412),
        ({"if_none_match": "*"}, False, 412),
        ({"if_none_match": '"x"'}, True, None),
        ({"if_unmodified_since": formatdate(1_600_000_000, usegmt=True)}, False, 412),
        ({"if_unmodified_since": formatdate(1_700_000_000, usegmt=True)}, False, None),
        ({"if_modified_since": formatdate(1_700_000_000, usegmt=True)}, True, 304),
        ({"if_modified_since": formatdate(1_699_999_999, usegmt=True)}, True, None),
        ({"if_modified_since": formatdate(1_700_000_000, usegmt=True)}, False, None),
        # If-Match decides before If-Unmodified-Since; If-None-Match before If-Modified-Since.
        ({"if_match": TAG, "if_unmodified_since": formatdate(0, usegmt=True)}, False, None),
        ({"if_none_match": '"x"', "if_modified_since": formatdate(2e9, usegmt=True)}, True,
         None),
    ],
)
def test_evaluation_follows_rfc_9110(headers, reading, expected):
    found = conditions(**headers)
    assert found is not None
    assert found.evaluate(FILE, reading) == expected
    assert found.holds(FILE) == (found.evaluate(FILE, False) is None)


def test_a_missing_file_fails_if_match_and_passes_if_none_match_star():
    assert conditions(if_match="*").evaluate(None, False) == 412
    assert conditions(if_none_match="*").evaluate(None, False) is None
    assert conditions(if_unmodified_since=formatdate(0, usegmt=True)).evaluate(None, False) is None


def test_dates_match_the_standard_library_and_read_effect_files_have_no_tags():
    for seconds in (0, 784_111_777, 1_764_900_000, 4_102_444_800, -1):
        assert http_date(seconds * SECOND) == formatdate(seconds, usegmt=True)
    assert validators(FileInfo("dequeue", read_effect=ReadEffect.CONSUMES)) == []
    assert validators(FileInfo("d", is_dir=True)) == []
    assert dict(validators(FILE)) == {
        b"etag": TAG.encode(),
        b"last-modified": b"Tue, 14 Nov 2023 22:13:20 GMT",
    }
