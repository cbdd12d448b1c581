"""The WebDAV lock manager and If-header parsing in-process: coverage by depth, conflicts,
expiry (by moving a lock's deadline, not by waiting), the lock limit, Timeout headers."""

from __future__ import annotations

import asyncio

import pytest

from pfs.fs.errors import InvalidArgument, Unavailable
from pfs.server.webdav import locks as locks_module
from pfs.server.webdav.conditions import holds, parse_if, submitted_tokens
from pfs.server.webdav.locks import MAX_TIMEOUT, LockManager, parse_timeout


def test_depth_infinity_covers_the_subtree_depth_0_only_the_root():
    manager = LockManager()
    deep = manager.add("/a", exclusive=True, infinite=True, owner="", timeout=60)
    flat = manager.add("/b", exclusive=False, infinite=False, owner="", timeout=60)
    assert manager.covering("/a/x/y") == [deep]
    assert manager.covering("/b") == [flat]
    assert manager.covering("/b/x") == []
    assert manager.covering("/ab") == []
    assert manager.within("/") == [deep, flat]
    assert manager.within("/a") == [deep]


def test_conflicts_between_exclusive_and_shared_locks():
    manager = LockManager()
    manager.add("/s", exclusive=False, infinite=False, owner="", timeout=60)
    assert manager.conflicts("/s", exclusive=False, infinite=False) == []
    assert len(manager.conflicts("/s", exclusive=True, infinite=False)) == 1
    manager.add("/d/x", exclusive=True, infinite=False, owner="", timeout=60)
    # A depth-infinity lock on a parent clashes with a lock below it.
    assert len(manager.conflicts("/d", exclusive=False, infinite=True)) == 1
    assert manager.conflicts("/d", exclusive=False, infinite=False) == []


def test_expired_locks_are_gone_and_refresh_moves_the_deadline():
    manager = LockManager()
    lock = manager.add("/f", exclusive=True, infinite=False, owner="", timeout=60)
    manager.refresh(lock, 5)
    assert manager.get(lock.token) is lock and lock.remaining() <= 5
    manager.refresh(lock, 0)  # a deadline of now: passed by the next look
    assert manager.get(lock.token) is None
    assert manager.covering("/f") == []


def test_remove_and_drop_within():
    manager = LockManager()
    a = manager.add("/t/a", exclusive=True, infinite=False, owner="", timeout=60)
    manager.add("/t/b/c", exclusive=True, infinite=False, owner="", timeout=60)
    manager.drop_within("/t/b")
    assert manager.within("/t") == [a]
    manager.remove(a.token)
    assert manager.within("/") == []


def test_the_lock_limit_refuses_with_503(monkeypatch):
    monkeypatch.setattr(locks_module, "MAX_LOCKS", 2)
    manager = LockManager()
    manager.add("/1", exclusive=True, infinite=False, owner="", timeout=60)
    manager.add("/2", exclusive=True, infinite=False, owner="", timeout=60)
    with pytest.raises(Unavailable, match="2 locks"):
        manager.add("/3", exclusive=True, infinite=False, owner="", timeout=60)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 3600), ("Second-30", 30), ("Infinite", MAX_TIMEOUT), ("Second-999999999", MAX_TIMEOUT),
     ("Bogus, Second-7", 7), ("Second-0", 1)],
)
def test_timeout_header(header, seconds):
    assert parse_timeout(header) == seconds


def test_if_header_lists_tags_and_negation():
    lists = parse_if('<http://h/webdav/a> (<opaquelocktoken:1> ["e1"]) (Not <DAV:no-lock>)')
    assert [lst.resource for lst in lists] == ["http://h/webdav/a", "http://h/webdav/a"]
    assert submitted_tokens(lists) == {"opaquelocktoken:1", "DAV:no-lock"}

    async def state(resource):
        return '"e1"', {"opaquelocktoken:1"}

    assert asyncio.run(holds(parse_if('(<opaquelocktoken:1> ["e1"])'), state))
    assert not asyncio.run(holds(parse_if('(<opaquelocktoken:2>)'), state))
    assert asyncio.run(holds(parse_if("(<opaquelocktoken:2>) (Not <DAV:no-lock>)"), state))
    assert not asyncio.run(holds(parse_if('(Not ["e1"])'), state))


@pytest.mark.parametrize("header", ["", "(", "()", "(Not)", "<a>", "(<a>", "junk", '["x"]'])
def test_malformed_if_headers_are_400(header):
    with pytest.raises(InvalidArgument, match="malformed If header"):
        parse_if(header)
