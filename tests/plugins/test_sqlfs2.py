"""sqlfs2 over a real server on a real SQLite file and a real MariaDB database: sessions
(ctl → id → query/data → result/error), commits, the original's query/execute views, schema
and count, listings, identifiers, limits, timeouts and refusals; the conformance suite's
read-only parts in process."""

from __future__ import annotations

import sqlite3
import time

import httpx
import orjson
import pytest

from pfs.fs import validate_config
from pfs.plugins.sqlfs2 import SQLFS2
from pfs.testing.contract import ContractFixtures, DirectoryTests, ErrorTests, ReadOnlyTests
from pfs.testing.server import ServerProcess, free_port

WAIT = 30.0


@pytest.fixture(scope="module")
def sqlite_file(tmp_path_factory):
    return tmp_path_factory.mktemp("sqlfs2") / "console.db"


@pytest.fixture(scope="module")
def mysql_db(mysql_database_factory):
    return mysql_database_factory()


@pytest.fixture(scope="module")
def server(sqlite_file, mysql_db):
    config = {
        "plugins": {
            "sqlfs2": [
                {"name": "lite", "enabled": True, "path": "/lite",
                 "config": {"db_path": str(sqlite_file)}},
                {"name": "maria", "enabled": True, "path": "/maria",
                 "config": {"backend": "mysql", "host": "127.0.0.1", "port": 3306,
                            "user": "root", "database": mysql_db}},
            ]
        }
    }
    with ServerProcess(config) as proc:
        yield proc


@pytest.fixture(params=["sqlite", "mysql"])
def db(request, server, mysql_db):
    """``/<mount>/<database>`` of one back end."""
    return "/lite/main" if request.param == "sqlite" else f"/maria/{mysql_db}"


class Console:
    def __init__(self, api: httpx.Client) -> None:
        self.api = api

    def read(self, path: str, status: int = 200) -> bytes:
        response = self.api.get("/files", params={"path": path})
        assert response.status_code == status, response.text
        return response.content

    def write(self, path: str, body: str | bytes, status: int = 200) -> httpx.Response:
        response = self.api.put("/files", params={"path": path}, content=body)
        assert response.status_code == status, response.text
        return response

    def session(self, scope: str) -> str:
        sid = self.read(f"{scope}/ctl").decode()
        assert sid.endswith("\n") and sid[:-1].isdigit()
        return f"{scope}/{sid[:-1]}"

    def sql(self, session: str, statement: str) -> object:
        response = self.write(f"{session}/query", statement)
        assert response.json() == {"message": f"Written {len(statement.encode())} bytes"}
        assert self.read(f"{session}/error") == b""
        return orjson.loads(self.read(f"{session}/result"))

    def names(self, path: str) -> list[str]:
        response = self.api.get("/directories", params={"path": path})
        assert response.status_code == 200, response.text
        return [entry["name"] for entry in response.json()["files"]]


@pytest.fixture
def console(api):
    return Console(api)


def make_table(console: Console, db: str, name: str) -> str:
    session = console.session(db)
    console.sql(session, f"DROP TABLE IF EXISTS {name}")
    console.sql(session, f"CREATE TABLE {name} (id INTEGER PRIMARY KEY AUTO_INCREMENT, "
                         "name VARCHAR(40) NOT NULL, score INTEGER DEFAULT 7)"
                if db.startswith("/maria") else
                f"CREATE TABLE {name} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "name VARCHAR(40) NOT NULL, score INTEGER DEFAULT 7)")
    return f"{db}/{name}"


def test_session_query_results_are_committed(console, db, sqlite_file):
    table = make_table(console, db, "people")
    session = console.session(db)
    assert console.sql(session, "INSERT INTO people (name) VALUES ('ada')") == {
        "last_insert_id": 1, "rows_affected": 1}
    assert console.sql(session, "SELECT name, score FROM people") == [{"name": "ada", "score": 7}]
    assert console.read(f"{session}/result").startswith(b'[\n  {\n    "name": "ada",')
    assert console.sql(session, "SELECT * FROM people WHERE id > 5") is None
    # Committed: another session and the count file see it; closing changes nothing.
    console.write(f"{session}/ctl", "close")
    console.read(f"{session}/result", 404)
    assert console.read(f"{table}/count") == b"1\n"
    other = console.session(db)
    assert console.sql(other, "SELECT COUNT(*) AS n FROM people") == [{"n": 1}]
    if db.startswith("/lite"):
        with sqlite3.connect(sqlite_file) as conn:
            assert conn.execute("SELECT name FROM people").fetchall() == [("ada",)]


def test_table_session_data_inserts(console, db):
    table = make_table(console, db, "rows_in")
    session = console.session(table)
    assert console.names(session) == ["ctl", "query", "result", "data", "error"]
    console.write(f"{session}/data", '{"name": "one"}')
    assert orjson.loads(console.read(f"{session}/result")) == {"inserted_count": 1}
    console.write(f"{session}/data", '[{"name": "two", "score": 2}, {"name": "three"}]')
    console.write(f"{session}/data", '{"name": "four"}\n{"name": "five", "score": null}\n')
    assert orjson.loads(console.read(f"{session}/result")) == {"inserted_count": 2}
    assert console.read(f"{table}/count") == b"5\n"
    rows = console.sql(session, "SELECT name, score FROM rows_in ORDER BY id")
    assert rows == [{"name": "one", "score": 7}, {"name": "two", "score": 2},
                    {"name": "three", "score": 7}, {"name": "four", "score": 7},
                    {"name": "five", "score": None}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"name": "x"}\nnot json\n', "invalid JSON at line 2"),
        ('[{"name": "x"}, 3]', "element at index 1 is not a JSON object"),
        ('"text"', "JSON must be an object or array of objects"),
        ("[]", "no records to insert"),
        ('[{"name": "x"}, {"nope": 1}]', "insert error at record 1: unknown column 'nope'"),
        ('[{"name": "x"}, {"score": 1}]', "insert error at record 1"),  # name is NOT NULL
    ],
)
def test_bad_data_is_refused_whole(console, db, body, message):
    table = make_table(console, db, "strict")
    session = console.session(table)
    response = console.write(f"{session}/data", body, 400)
    assert message in response.json()["error"]
    assert message in console.read(f"{session}/error").decode()
    assert console.read(f"{session}/result") == b""
    assert console.read(f"{table}/count") == b"0\n"


def test_sql_errors_are_kept_in_error(console, db):
    session = console.session(db)
    response = console.write(f"{session}/query", "SELEC 1", 400)
    assert response.json()["error"].startswith(f"{session}/query: query error:")
    assert console.read(f"{session}/error").endswith(b"\n")
    assert console.read(f"{session}/result") == b""
    assert "empty SQL statement" in console.write(f"{session}/query", "  \n", 400).text
    console.sql(session, "SELECT 1 AS one")  # a success empties error
    response = console.write(f"{session}/query", "SELECT * FROM no_such_table", 400)
    assert "no_such_table" in response.json()["error"]


def test_schema_count_and_stat(console, db, api):
    table = make_table(console, db, "described")
    schema = console.read(f"{table}/schema")
    assert schema.startswith(b"CREATE TABLE") and b"described" in schema
    assert schema.endswith(b"\n")
    info = api.get("/stat", params={"path": f"{table}/schema"}).json()
    assert (info["size"], info["mode"], info["meta"]["Type"]) == (len(schema), 0o444, "schema")
    # count is not counted for stat (a scan per listing): size 0, read whole.
    info = api.get("/stat", params={"path": f"{table}/count"}).json()
    assert (info["size"], info["meta"]["Type"]) == (0, "count")
    assert console.read(f"{table}/count") == b"0\n"
    info = api.get("/stat", params={"path": f"{table}/ctl"}).json()
    assert (info["meta"]["Type"], info["readEffect"]) == ("ctl", "consumes")
    assert api.get("/stat", params={"path": table}).json()["meta"]["Type"] == "table"
    assert api.get("/stat", params={"path": db}).json()["meta"]["Type"] == "database"


def test_listings(console, db):
    mount = "/" + db.split("/")[1]
    table = make_table(console, db, "listed")
    root = console.names(mount)
    assert root[:2] == ["ctl", "README"] and db.rsplit("/", 1)[1] in root
    assert b"sqlfs2" in console.read(f"{mount}/README")
    session = console.session(db)
    sid = session.rsplit("/", 1)[1]
    names = console.names(db)
    assert names[0] == "ctl" and sid in names and "listed" in names
    table_session = console.session(table)
    assert console.names(table) == ["ctl", table_session.rsplit("/", 1)[1], "schema", "count",
                                    "query", "execute"]
    assert console.names(session) == ["ctl", "query", "result", "error"]


def test_sessions_are_bound_to_their_scope(console, db):
    mount = "/" + db.split("/")[1]
    root_session = console.session(mount)
    sid = int(root_session.rsplit("/", 1)[1])
    console.read(f"{db}/{sid}/result", 404)  # the same id under another scope is no session
    assert console.sql(root_session, "SELECT 2 AS two") == [{"two": 2}]
    later = console.session(mount)
    assert int(later.rsplit("/", 1)[1]) > sid  # ids are never reused
    response = console.api.delete("/files", params={"path": later})
    assert response.status_code == 200, response.text
    console.read(f"{later}/result", 404)
    assert console.write(f"{root_session}/ctl", "stop", 400).json()["error"].endswith(
        "unknown ctl command: stop (use 'close')")
    console.read(f"{root_session}/query", 403)
    console.write(f"{root_session}/result", "x", 403)


def test_the_originals_table_views(console, db):
    table = make_table(console, db, "viewed")
    message = console.write(f"{table}/execute", "INSERT INTO viewed (name) VALUES ('v')").json()
    assert orjson.loads(message["message"]) == {"rows_affected": 1, "last_insert_id": 1}
    message = console.write(f"{table}/query", "SELECT name FROM viewed").json()["message"]
    assert orjson.loads(message) == [{"name": "v"}]
    console.read(f"{table}/query", 403)
    response = console.write(f"{table}/query", "SELECT nope FROM viewed", 400)
    assert "query error" in response.json()["error"]


def test_bad_paths_and_refused_operations(console, db, api):
    mount = "/" + db.split("/")[1]
    response = api.get("/stat", params={"path": f"{mount}/bad-name"})
    assert response.status_code == 400
    assert "invalid SQL database identifier 'bad-name'" in response.json()["error"]
    assert api.get("/stat", params={"path": f"{db}/no_table"}).status_code == 404
    assert api.get("/stat", params={"path": f"{db}/t/x/y"}).status_code == 404
    console.read(f"{db}/no_table/ctl", 404)
    table = make_table(console, db, "kept")
    assert api.post("/directories", params={"path": f"{db}/newdir"}).status_code == 501
    assert api.post("/files", params={"path": f"{table}/new"}).status_code == 501
    assert api.post("/rename", params={"path": table},
                    json={"newPath": f"{db}/other"}).status_code == 501
    console.write(f"{table}/schema", "x", 403)
    console.read(table, 400)
    assert api.delete("/files", params={"path": table}).status_code == 501  # not recursive
    assert "kept" in console.names(db)
    response = api.delete("/files", params={"path": table, "recursive": "true"})
    assert response.status_code == 200, response.text
    assert "kept" not in console.names(db)
    if db.startswith("/lite"):
        response = api.delete("/directories", params={"path": db, "recursive": "true"})
        assert response.status_code == 501
        assert "drop database is not supported for sqlite backend" in response.text


def test_result_size_is_bounded(api, console, sqlite_file):
    response = api.post("/mount", json={"fstype": "sqlfs2", "path": "/small", "config": {
        "db_path": str(sqlite_file), "max_result_size": "1KB"}})
    assert response.status_code == 200, response.text
    try:
        session = console.session("/small/main")
        statement = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n " \
                    "WHERE i < 1000) SELECT i FROM n"
        response = console.write(f"{session}/query", statement, 413)
        assert "max_result_size (1KB)" in response.json()["error"]
        assert console.read(f"{session}/result") == b""
        assert console.sql(session, statement.replace("1000", "3")) == [
            {"i": 1}, {"i": 2}, {"i": 3}]
    finally:
        api.post("/unmount", json={"path": "/small"})


def test_a_runaway_statement_is_interrupted(api, console, sqlite_file):
    response = api.post("/mount", json={"fstype": "sqlfs2", "path": "/slow", "config": {
        "db_path": str(sqlite_file), "query_timeout": 0.2}})
    assert response.status_code == 200, response.text
    try:
        session = console.session("/slow")
        endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) " \
                  "SELECT COUNT(*) FROM n"
        response = console.write(f"{session}/query", endless, 504)
        assert "query_timeout" in response.json()["error"]
        assert console.sql(session, "SELECT 1 AS ok") == [{"ok": 1}]  # the thread is free
    finally:
        api.post("/unmount", json={"path": "/slow"})


def test_idle_sessions_expire_and_sessions_are_limited(api, console, sqlite_file):
    response = api.post("/mount", json={"fstype": "sqlfs2", "path": "/brief", "config": {
        "db_path": str(sqlite_file), "session_timeout": "200ms", "max_sessions": 2}})
    assert response.status_code == 200, response.text
    try:
        first, second = console.session("/brief"), console.session("/brief")
        response = console.api.get("/files", params={"path": "/brief/ctl"})
        assert response.status_code == 503
        assert "max_sessions=2" in response.json()["error"]
        # Listing does not use a session (every use of one restarts its idle time).
        deadline = time.monotonic() + WAIT
        while first.rsplit("/", 1)[1] in console.names("/brief"):
            assert time.monotonic() < deadline, "the idle session never expired"
            time.sleep(0.05)
        console.read(f"{first}/result", 404)
        console.read(f"{second}/result", 404)
        console.session("/brief")  # room again
    finally:
        api.post("/unmount", json={"path": "/brief"})


def test_a_database_that_is_down_answers_503_naming_it(api):
    port = free_port()
    response = api.post("/mount", json={"fstype": "sqlfs2", "path": "/down", "config": {
        "backend": "mysql", "host": "127.0.0.1", "port": port, "connect_timeout": 2}})
    assert response.status_code == 503, response.text
    assert f"127.0.0.1:{port}" in response.json()["error"]


def test_bad_configs_are_refused(api):
    for config, message in (
        ({"backend": "postgres"}, "backend"),
        ({"max_result_size": "1GB2"}, "max_result_size"),
        ({"session_timeout": "later"}, "session_timeout"),
        ({"max_sessions": 0}, "max_sessions"),
    ):
        response = api.post("/mount", json={"fstype": "sqlfs2", "path": "/badcfg",
                                            "config": config})
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]


class Sqlfs2Fixtures(ContractFixtures):
    """The conformance suite's parts that apply to a SQL console: its files are generated and
    read-only (schema), no directories or renames can be made, missing names are NotFound."""

    @pytest.fixture
    async def fs(self, tmp_path):
        config = validate_config("sqlfs2", SQLFS2.config_schema,
                                 {"db_path": str(tmp_path / "c.db")})
        fs = SQLFS2(config)
        await fs.start()
        await fs.backend.run(None, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", 1 << 20)
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def root(self) -> str:
        return "/main/t"

    @pytest.fixture
    def writable(self) -> bool:
        return False

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return False

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/main/t/schema", b"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)\n"


class TestSqlfs2ReadOnly(ReadOnlyTests, Sqlfs2Fixtures):
    pass


class TestSqlfs2Directories(DirectoryTests, Sqlfs2Fixtures):
    pass


class TestSqlfs2Errors(ErrorTests, Sqlfs2Fixtures):
    pass
