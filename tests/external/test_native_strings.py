"""The strings of native stat and readdir records are copied in batches (one system call for
many, with the record on a guess they are the last record's strings): every way a batch can go
short or wrong still gives each string, or the same error as a careful copy of it alone. The
plugin (edgefs, built here with gcc) places strings against unmapped pages, past the batch's
slot, at bad pointers among good ones, and moves or rewrites them between calls."""

from __future__ import annotations

import os
import subprocess

import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.external import ROOT, external_config

PAGE = os.sysconf("SC_PAGESIZE")
UNREADABLE = "is not readable memory (or has no terminating NUL)"
#: Longer than a batch slot (256) / than the careful first read (4096).
LONG = 300
LONGER = 5000
#: Entries of /many, each name a page from the next: more spans than one call takes.
MANY = 1500

EDGEFS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pfs_plugin.h"

#define BAD_POINTER ((const char *)16)

static long page;
/* Pages A B C D E F: B, D and F unreadable. "edge" ends on A's last byte, "{}" on C's; E has
 * no NUL at all. */
static char *region;
static char *start, *edge, *after_gap, *text_on_c, *json_at_end, *in_gap, *no_end;
static char *long_name, *longer_name, *long_json;
static char counter[32];
static int calls;
static char *moving; /* a fresh page per call; the last one is unmapped */
static char *many_pages;
static FileInfoC many[MANY];
static FileInfoC records[4];
static FileInfoArray array;

static char *filled(size_t length, char c) {
    char *s = malloc(length + 1);
    memset(s, c, length);
    s[length] = 0;
    return s;
}

void *PluginNew(void) {
    static int instance;
    page = sysconf(_SC_PAGESIZE);
    region = mmap(NULL, 6 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(region, 'x', 6 * page);
    for (int unreadable = 1; unreadable < 6; unreadable += 2)
        mprotect(region + unreadable * page, page, PROT_NONE);
    start = region + 16;
    strcpy(start, "start");
    edge = region + page - 5;
    strcpy(edge, "edge");
    after_gap = region + 2 * page;
    strcpy(after_gap, "after-the-gap");
    text_on_c = region + 2 * page + 100;
    strcpy(text_on_c, "text");
    json_at_end = region + 3 * page - 3;
    strcpy(json_at_end, "{}");
    in_gap = region + page + 10;
    no_end = region + 4 * page + 200;
    long_name = filled(LONG, 'n');
    longer_name = filled(LONGER, 'N');
    long_json = filled(LONG + 8, 'v');
    memcpy(long_json, "{\"k\":\"", 6);
    strcpy(long_json + LONG + 6, "\"}");
    many_pages = mmap(NULL, MANY * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    for (int i = 0; i < MANY; i++) {
        char *name = many_pages + i * page;
        snprintf(name, 16, "e%d", i);
        many[i] = (FileInfoC){name, i, 0644, 0, 0, "edgefs", NULL, "{}"};
    }
    return &instance;
}

const char *PluginName(void *plugin) { (void)plugin; return "edgefs"; }

static int is(const char *path, const char *name) { return strcmp(path, name) == 0; }

static FileInfoC record(const char *name, const char *meta_name, const char *meta_type,
                        const char *content) {
    return (FileInfoC){name, 1, 0644, 0, 0, meta_name, meta_type, content};
}

/* The record a path names; 0 when it names none. */
static int fill(const char *path, FileInfoC *out) {
    if (is(path, "/edge")) *out = record(edge, after_gap, text_on_c, json_at_end);
    else if (is(path, "/long")) *out = record(long_name, longer_name, "text", long_json);
    else if (is(path, "/nulls")) *out = record("n", NULL, "t", NULL);
    else if (is(path, "/same")) *out = record("same", "same", "same", NULL);
    else if (is(path, "/bad-among")) *out = record("good", "m", BAD_POINTER, "{}");
    else if (is(path, "/gap-among")) *out = record(after_gap, start, "t", in_gap);
    else if (is(path, "/no-end")) *out = record("good", "m", no_end, "{}");
    else if (is(path, "/counter")) {
        snprintf(counter, sizeof counter, "call-%d", ++calls);
        *out = record(counter, "edgefs", "text", "{}");
    } else if (is(path, "/moving")) {
        char *fresh = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
        snprintf(fresh, 32, "moved-%d", ++calls);
        if (moving) munmap(moving, page);
        moving = fresh;
        *out = record(moving, "edgefs", "text", "{}");
    } else return 0;
    return 1;
}

FileInfoC *FSStat(void *plugin, const char *path) {
    static FileInfoC result;
    (void)plugin;
    return fill(path, &result) ? &result : NULL;
}

FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count) {
    (void)plugin;
    if (is(path, "/many")) {
        array = (FileInfoArray){many, MANY};
        *out_count = MANY;
        return &array;
    }
    if (is(path, "/mixed") || is(path, "/bad")) {
        fill("/edge", &records[0]);
        fill("/long", &records[1]);
        fill("/nulls", &records[2]);
        fill(is(path, "/bad") ? "/bad-among" : "/same", &records[3]);
        array = (FileInfoArray){records, 4};
        *out_count = 4;
        return &array;
    }
    *out_count = -1;
    return NULL;
}
"""


@pytest.fixture(scope="module")
def edgefs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("edgefs")
    source = directory / "edgefs.c"
    source.write_text(EDGEFS)
    library = directory / "libedgefs.so"
    subprocess.run(
        [
            "cc", "-Wall", "-Werror", "-O2", "-shared", "-fPIC",
            f"-I{ROOT / 'src' / 'pfs' / 'external'}",
            f"-DLONG={LONG}", f"-DLONGER={LONGER}", f"-DMANY={MANY}",
            "-o", str(library), str(source),
        ],
        check=True,
    )
    return library


@pytest.fixture(scope="module")
def server(edgefs):
    config = external_config([edgefs], {"edgefs": {"enabled": True, "path": "/edge"}})
    with ServerProcess(config) as proc:
        yield proc


def stat(api, path):
    r = api.get("/stat", params={"path": f"/edge{path}"})
    assert r.status_code == 200, r.text
    info = r.json()
    return info["name"], info["meta"]


def assert_error(api, url, path, error):
    r = api.get(url, params={"path": f"/edge{path}"})
    assert r.status_code == 500
    assert r.json()["error"].startswith(f"/edge{path}: {error}"), r.json()
    assert "Traceback" not in api.get("/stat", params={"path": "/edge/edge"}).text


def test_strings_against_unmapped_pages(api):
    # "edge"'s slot runs into an unmapped page: the kernel stops there, and the strings after it
    # (on the page past the gap, "{}" on its very last byte) are read again alone.
    assert stat(api, "/edge") == (
        "edge",
        {"Name": "after-the-gap", "Type": "text", "Content": {}},
    )


def test_strings_longer_than_a_slot(api):
    assert stat(api, "/long") == (
        "n" * LONG,
        {"Name": "N" * LONGER, "Type": "text", "Content": {"k": "v" * LONG}},
    )


def test_null_among_strings_and_one_pointer_twice(api):
    assert stat(api, "/nulls") == ("n", {"Name": "", "Type": "t", "Content": {}})
    assert stat(api, "/same") == ("same", {"Name": "same", "Type": "same", "Content": {}})


def test_a_bad_pointer_among_good_ones_is_the_error_of_that_string(api):
    assert_error(api, "/stat", "/bad-among", f"FSStat MetaType: the string at 0x10 {UNREADABLE}")
    # The unreadable one sorts between good ones (which share its batch): still its error.
    assert_error(api, "/stat", "/gap-among", "FSStat MetaContent: the string at 0x")
    # A string of 'x' up to an unmapped page has no end: an error too, not the bytes copied.
    assert_error(api, "/stat", "/no-end", "FSStat MetaType: the string at 0x")


def test_strings_guessed_from_the_last_record_are_copied_after_the_call(api):
    # The same buffer rewritten by each call: never the text the last call left there.
    names = [stat(api, "/counter")[0] for _ in range(3)]
    numbers = [int(name.removeprefix("call-")) for name in names]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    # The guessed string's page is unmapped by the next call: the new one is still read.
    for _ in range(3):
        assert stat(api, "/moving")[0].startswith("moved-")
    # Switching between records whose strings differ.
    for path in ["/edge", "/long", "/nulls", "/edge"]:
        assert stat(api, path)[0] in ("edge", "n" * LONG, "n")


def test_readdir_batches_across_records(api):
    r = api.get("/directories", params={"path": "/edge/mixed"})
    assert r.status_code == 200, r.text
    files = r.json()["files"]
    assert [(f["name"], f["meta"]["Name"], f["meta"]["Type"]) for f in files] == [
        ("edge", "after-the-gap", "text"),
        ("n" * LONG, "N" * LONGER, "text"),
        ("n", "", "t"),
        ("same", "same", "same"),
    ]
    assert files[1]["meta"]["Content"] == {"k": "v" * LONG}
    assert_error(
        api, "/directories", "/bad", f"FSReadDir MetaType: the string at 0x10 {UNREADABLE}"
    )


def test_readdir_of_more_strings_than_one_call_takes(api):
    r = api.get("/directories", params={"path": "/edge/many"})
    assert r.status_code == 200, r.text
    files = r.json()["files"]
    assert [f["name"] for f in files] == [f"e{i}" for i in range(MANY)]
    assert [f["size"] for f in files] == list(range(MANY))
    assert {(f["meta"]["Name"], f["meta"]["Type"]) for f in files} == {("edgefs", "")}


def test_direct_calls_match_the_careful_copy(edgefs):
    """The same records through the host's bindings, checked against ``read_text`` of each
    string alone (the careful path the batches fall back to)."""
    from pfs.external.native import _RECORD, NativePlugin, _strings_of
    from pfs.external.plugin_memory import read_bytes, read_text

    plugin = NativePlugin.open(str(edgefs))
    try:
        for path in ["/edge", "/long", "/nulls", "/same", "/edge", "/long"]:
            info = plugin.stat(path)
            pointer = plugin.fn["FSStat"](plugin.handle, path.encode())
            record = _RECORD.unpack(read_bytes(pointer, _RECORD.size, "FSStat"))
            name, meta_name, meta_type, _ = (read_text(p, "x") for p in _strings_of(record))
            assert (info.name, info.meta.name, info.meta.type) == (name, meta_name, meta_type)
        assert [e.name for e in plugin.readdir("/many")] == [f"e{i}" for i in range(MANY)]
    finally:
        plugin.release()
