"""queuefs on a database in AGFS's table layout (a registry + one table per queue, soft-deleted
rows holding the message JSON), SQLite and MariaDB: a database AGFS filled is read and drained,
and what this server writes there is in AGFS's layout."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from pfs.fs.fileinfo import parse_time_ns
from pfs.testing.mariadb import MariaDB
from tests.helpers.queuefs import dequeue, enqueue, read, require_mariadb, size

# AGFS's schema as the spec (AGFS.md §5.1) describes it, for each kind of database.
SQLITE_DDL = {
    "registry": """CREATE TABLE queuefs_registry (
        queue_name TEXT PRIMARY KEY,
        table_name TEXT NOT NULL,
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP)""",
    "queue": """CREATE TABLE {t} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        data TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
        deleted INTEGER DEFAULT 0,
        deleted_at DATETIME)""",
    "index": "CREATE INDEX idx_{t}_deleted_id ON {t}(deleted, id)",
}
MYSQL_DDL = {
    "registry": """CREATE TABLE queuefs_registry (
        queue_name VARCHAR(255) PRIMARY KEY,
        table_name VARCHAR(255) NOT NULL,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "queue": """CREATE TABLE {t} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        message_id VARCHAR(64) NOT NULL,
        data LONGBLOB NOT NULL,
        timestamp BIGINT NOT NULL,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        deleted TINYINT(1) DEFAULT 0,
        deleted_at TIMESTAMP NULL,
        INDEX idx_deleted_id (deleted, id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "index": None,
}


class SQLiteFile:
    kind = "sqlite"

    def __init__(self, path) -> None:
        self.path = str(path)

    def config(self) -> dict:
        return {"backend": "sqlite", "db_path": self.path}

    def run(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return conn.execute(sql.replace("%s", "?"), args).fetchall()
        finally:
            conn.close()

    def tables(self) -> set[str]:
        return {row[0] for row in self.run("SELECT name FROM sqlite_master WHERE type = 'table'")}


class MariaDBDatabase:
    kind = "mysql"

    def __init__(self, server: MariaDB, name: str) -> None:
        self.server, self.name = server, name
        server.run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def config(self) -> dict:
        return {"backend": "mysql", **self.server.config(self.name)}

    def run(self, sql: str, args: tuple = ()) -> list[tuple]:
        import asyncmy

        async def go() -> list[tuple]:
            conn = await asyncmy.connect(
                host=self.server.host, port=self.server.port, user=self.server.user,
                password=self.server.password, db=self.name, autocommit=True,
            )
            try:
                async with conn.cursor() as cur:
                    await cur.execute(sql, args)
                    return list(await cur.fetchall() or [])
            finally:
                conn.close()

        return asyncio.run(go())

    def tables(self) -> set[str]:
        return {row[0] for row in self.run("SHOW TABLES")}


@pytest.fixture(params=["sqlite", "mysql"])
def database(request, tmp_path) -> Iterator[SQLiteFile | MariaDBDatabase]:
    if request.param == "sqlite":
        yield SQLiteFile(tmp_path / "agfs-queue.db")
        return
    require_mariadb()
    server = MariaDB()
    with server.scratch_database("pfs_agfs_queue") as name:
        yield MariaDBDatabase(server, name)


def create_agfs_schema(db) -> None:
    ddl = SQLITE_DDL if db.kind == "sqlite" else MYSQL_DDL
    db.run(ddl["registry"])


def create_agfs_queue(db, queue: str) -> str:
    """mkdir as AGFS does it: the table named after the queue, then its registry row."""
    ddl = SQLITE_DDL if db.kind == "sqlite" else MYSQL_DDL
    table = "queuefs_queue_" + queue.replace("/", "_").replace("-", "_").replace(".", "_")
    db.run(ddl["queue"].format(t=table))
    if ddl["index"]:
        db.run(ddl["index"].format(t=table))
    db.run("INSERT INTO queuefs_registry (queue_name, table_name) VALUES (%s, %s)", (queue, table))
    return table


def go_json(obj: dict) -> str:
    """JSON as Go's encoder writes it: compact, UTF-8, with <, > and & escaped in strings."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def enqueue_as_agfs(db, table: str, number: int, body: str) -> dict:
    """Insert a message as AGFS's enqueue does; returns the message as a dequeue shows it."""
    message = {
        "id": f"0192f0a4-7b1c-7d2e-8f30-{number:012x}",
        "data": body,
        "timestamp": f"2025-06-01T12:00:{number % 60:02d}.123456789+02:00",
    }
    db.run(
        f"INSERT INTO {table} (message_id, data, timestamp, deleted) VALUES (%s, %s, %s, 0)",
        (message["id"], go_json(message), 1748772000 + number),
    )
    return message


@pytest.fixture
def mount(api):
    """``mount(config)`` → a fresh path with queuefs mounted on ``config``; unmounted after."""
    made: list[str] = []

    def mount(config: dict) -> str:
        path = f"/queuefs/agfs_{uuid.uuid4().hex[:8]}"  # the helpers read under /queuefs
        r = api.post("/mount", json={"fstype": "queuefs", "path": path, "config": config})
        assert r.status_code == 200, r.text
        made.append(path)
        return path

    yield mount
    for path in made:
        api.post("/unmount", json={"path": path})


def names(api, path: str) -> list[str]:
    r = api.get("/directories", params={"path": path})
    assert r.status_code == 200, r.text
    return sorted(f["name"] for f in r.json()["files"] or [])


def registry(db) -> dict[str, str]:
    return {
        (q.decode() if isinstance(q, bytes) else q): (t.decode() if isinstance(t, bytes) else t)
        for q, t in db.run("SELECT queue_name, table_name FROM queuefs_registry")
    }


def test_agfs_database_is_read_and_drained(api, database, mount):
    create_agfs_schema(database)
    orders = create_agfs_queue(database, "orders")
    errors = create_agfs_queue(database, "logs/errors")
    consumed = enqueue_as_agfs(database, orders, 0, "taken by AGFS already")
    database.run(
        f"UPDATE {orders} SET deleted = 1, deleted_at = CURRENT_TIMESTAMP WHERE message_id = %s",
        (consumed["id"],),
    )
    sent = [
        enqueue_as_agfs(database, orders, n, body)
        for n, body in ((1, "first <b> & co"), (2, "second\n"), (3, "third: ünïcode"))
    ]
    problem = enqueue_as_agfs(database, errors, 4, "disk full")
    root = mount(database.config())  # layout: auto finds AGFS's registry

    assert names(api, root) == ["README", "logs", "orders"]
    assert names(api, f"{root}/logs") == ["errors"]
    queue = root.removeprefix("/queuefs/")
    assert size(api, f"{queue}/orders") == 3
    assert orjson.loads(read(api, f"{root}/orders/peek").content) == sent[0]
    assert orjson.loads(read(api, f"{root}/orders/peek").content) == sent[0]  # peek keeps it
    peek = api.get("/stat", params={"path": f"{root}/orders/peek"}).json()
    assert parse_time_ns(peek["modTime"]) == (1748772000 + 3) * 10**9  # the newest live one
    assert [dequeue(api, f"{queue}/orders") for _ in range(3)] == sent  # FIFO, as stored
    assert read(api, f"{root}/orders/dequeue").content == b"{}"
    assert size(api, f"{queue}/orders") == 0
    # Dequeue is AGFS's soft delete: the rows stay, marked, for AGFS servers sharing the file.
    rows = database.run(f"SELECT deleted, deleted_at FROM {orders} ORDER BY id")
    assert len(rows) == 4 and all(deleted == 1 and at is not None for deleted, at in rows)
    assert dequeue(api, f"{queue}/logs/errors") == problem


def test_what_this_server_writes_is_in_agfs_layout(api, database, mount):
    create_agfs_schema(database)
    root = mount(database.config())
    queue = root.removeprefix("/queuefs/")
    assert api.post("/directories", params={"path": f"{root}/jobs"}).status_code == 201
    assert registry(database) == {"jobs": "queuefs_queue_jobs"}
    assert "queuefs_queue_jobs" in database.tables()

    before = int(time.time())
    message_id = enqueue(api, f"{queue}/jobs", b"hello")
    after = int(time.time()) + 1
    assert uuid.UUID(message_id).version == 7
    [(row_id, data, seconds, deleted)] = database.run(
        "SELECT message_id, data, timestamp, deleted FROM queuefs_queue_jobs"
    )
    stored = orjson.loads(data)
    assert row_id == message_id and deleted == 0 and before <= seconds <= after
    assert stored["id"] == message_id and stored["data"] == "hello"
    assert before <= parse_time_ns(stored["timestamp"]) // 10**9 <= after
    assert dequeue(api, f"{queue}/jobs") == stored

    # AGFS would give a/b and a-b one table; here each queue gets its own.
    assert api.post("/directories", params={"path": f"{root}/a/b"}).status_code == 201
    enqueue(api, f"{queue}/a-b", b"to a-b")  # enqueue creates a missing queue
    enqueue(api, f"{queue}/a/b", b"to a/b")
    tables = registry(database)
    assert tables["a/b"] == "queuefs_queue_a_b" and tables["a-b"] != tables["a/b"]
    assert tables["a-b"].startswith("queuefs_queue_a_b_") and tables["a-b"] in database.tables()
    assert dequeue(api, f"{queue}/a-b")["data"] == "to a-b"
    assert dequeue(api, f"{queue}/a/b")["data"] == "to a/b"
    assert names(api, f"{root}/a") == ["b"]

    enqueue(api, f"{queue}/jobs", b"one")
    enqueue(api, f"{queue}/jobs", b"two")
    assert api.put("/files", params={"path": f"{root}/jobs/clear"}, content=b"").status_code == 200
    assert size(api, f"{queue}/jobs") == 0
    assert database.run("SELECT COUNT(*) FROM queuefs_queue_jobs") == [(0,)]  # hard delete

    r = api.delete("/files", params={"path": f"{root}/a", "recursive": "true"})
    assert r.status_code == 200, r.text
    assert set(registry(database)) == {"jobs", "a-b"}
    assert "queuefs_queue_a_b" not in database.tables()
    assert names(api, root) == ["README", "a-b", "jobs"]


def test_a_row_that_is_not_agfs_json_is_the_body(api, database, mount):
    create_agfs_schema(database)
    table = create_agfs_queue(database, "raw")
    database.run(
        f"INSERT INTO {table} (message_id, data, timestamp, deleted) VALUES (%s, %s, %s, 0)",
        ("m-1", "plain text", 1748772000),
    )
    root = mount(database.config())
    message = dequeue(api, f"{root.removeprefix('/queuefs/')}/raw")
    assert message["id"] == "m-1" and message["data"] == "plain text"
    assert parse_time_ns(message["timestamp"]) == 1748772000 * 10**9


def test_in_flight_delivery_needs_our_layout(api, database, mount):
    create_agfs_schema(database)
    root = mount(database.config())
    enqueue(api, f"{root.removeprefix('/queuefs/')}/q", b"x")
    for control, body in (("ack", b"0192f0a4-7b1c-7d2e-8f30-000000000001"),
                          ("visibility_timeout", b"30")):
        r = api.put("/files", params={"path": f"{root}/q/{control}"}, content=body)
        assert r.status_code == 501 and "layout: pfs" in r.json()["error"], r.text
    assert size(api, f"{root.removeprefix('/queuefs/')}/q") == 1
    r = api.post("/mount", json={
        "fstype": "queuefs", "path": "/agfsq_timeout",
        "config": {**database.config(), "visibility_timeout": 30},
    })
    assert r.status_code == 400 and "visibility_timeout needs layout pfs" in r.json()["error"]


def test_layout_is_chosen_or_detected(api, database, mount):
    # A new database gets our layout unless the mount asks for AGFS's.
    root = mount(database.config())
    enqueue(api, f"{root.removeprefix('/queuefs/')}/q", b"ours")
    assert "queuefs_messages" in database.tables() and "queuefs_registry" not in database.tables()
    # layout: agfs on the same database adds AGFS's tables beside ours; each sees its own queues.
    agfs_root = mount({**database.config(), "layout": "agfs"})
    enqueue(api, f"{agfs_root.removeprefix('/queuefs/')}/other", b"agfs")
    assert registry(database) == {"other": "queuefs_queue_other"}
    assert names(api, agfs_root) == ["README", "other"]
    assert names(api, root) == ["README", "q"]
    # Now both are there: auto cannot tell and says what to set.
    r = api.post("/mount", json={"fstype": "queuefs", "path": "/agfsq_both",
                                 "config": database.config()})
    assert r.status_code == 400 and "set layout to pfs or agfs" in r.json()["error"], r.text


def test_layout_agfs_needs_a_sql_backend(api):
    r = api.post("/mount", json={"fstype": "queuefs", "path": "/agfsq_memory",
                                 "config": {"backend": "memory", "layout": "agfs"}})
    assert r.status_code == 400 and "needs a sqlite or mysql backend" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "queuefs", "path": "/agfsq_memory",
                                 "config": {"backend": "sqlite", "layout": "go"}})
    assert r.status_code == 400 and "layout" in r.json()["error"]


def test_concurrent_dequeues_hand_out_each_message_once(server, database, mount):
    create_agfs_schema(database)
    table = create_agfs_queue(database, "work")
    sent = [enqueue_as_agfs(database, table, n, f"job {n}")["data"] for n in range(60)]
    root = mount(database.config())

    def drain(_: int) -> list[str]:
        got = []
        with httpx.Client(base_url=server.api, timeout=60) as client:
            while True:
                message = dequeue(client, f"{root.removeprefix('/queuefs/')}/work")
                if not message:
                    return got
                got.append(message["data"])

    with ThreadPoolExecutor(8) as pool:
        taken = [data for part in pool.map(drain, range(8)) for data in part]
    assert sorted(taken) == sorted(sent)  # every message once: none lost, none twice


def test_queue_names_agfs_could_not_store(api, database, mount):
    """Punctuation AGFS would paste into SQL, and names past MySQL's 64-character table names,
    get tables of safe names of their own."""
    create_agfs_schema(database)
    root = mount({**database.config(), "layout": "agfs"})
    base = root.removeprefix("/queuefs/")
    queues = ["it's a \"queue\"", "x" * 200, "ünï/cödé"]
    for n, queue in enumerate(queues):
        enqueue(api, f"{base}/{queue}", f"message {n}".encode())
    tables = registry(database)
    assert set(tables) == set(queues)
    assert all(len(t) <= 64 and t.replace("_", "").isalnum() and t.isascii()
               for t in tables.values())
    assert set(tables.values()) <= database.tables()
    for n, queue in enumerate(queues):
        assert dequeue(api, f"{base}/{queue}")["data"] == f"message {n}"
