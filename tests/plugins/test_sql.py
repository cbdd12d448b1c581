"""pfs.sql: DSN parsing, config → options, TLS context, SQLite group commit, error translation,
the back-end choice and LIKE escaping the SQL-backed plugins share."""

from __future__ import annotations

import asyncio
import sqlite3
import ssl

import pytest

from pfs.fs.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from pfs.sql import (
    MySQLDatabase,
    SQLiteDatabase,
    as_text,
    backend_is_shared,
    choose_backend,
    escape_like,
    like_below,
    mysql_options,
    parse_mysql_dsn,
)
from pfs.sql.postgres import postgres_options
from pfs.testing.server import free_port


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "root@tcp(127.0.0.1:4000)/queuedb?charset=utf8mb4&parseTime=True",
            ("127.0.0.1", 4000, "root", "", "queuedb", False),
        ),
        ("u:p@ss@tcp(db.example:3307)/d", ("db.example", 3307, "u", "p@ss", "d", False)),
        ("u:p@tcp(h)/d?tls=true", ("h", 3306, "u", "p", "d", True)),
        ("/d", ("127.0.0.1", 3306, "", "", "d", False)),
        ("mysql://a:b%40c@h:5/d?tls=skip-verify", ("h", 5, "a", "b@c", "d", True)),
    ],
)
def test_parse_mysql_dsn(dsn, expected):
    o = parse_mysql_dsn(dsn)
    assert (o.host, o.port, o.user, o.password, o.database, o.tls) == expected


def _choose(name, config=None, with_memory=True):
    return choose_backend(
        name,
        config or {},
        memory=(lambda: ("memory",)) if with_memory else None,
        sqlite=lambda path: ("sqlite", path),
        mysql=lambda options: ("mysql", options.address, options.database),
        sqlite_file="x.db",
        database="xdb",
    )


def test_choose_backend_builds_the_named_backend_with_its_default_port():
    assert _choose("memory") == ("memory",)
    assert _choose("sqlite3") == ("sqlite", "x.db")
    assert _choose("sqlite", {"db_path": "/tmp/y.db"}) == ("sqlite", "/tmp/y.db")
    assert _choose("mysql") == ("mysql", "127.0.0.1:3306", "xdb")
    assert _choose("tidb") == ("mysql", "127.0.0.1:4000", "xdb")
    assert _choose("tidb", {"port": 4001, "database": "own"}) == ("mysql", "127.0.0.1:4001", "own")
    with pytest.raises(InvalidArgument) as info:
        _choose("memory", with_memory=False)
    assert str(info.value) == (
        "unsupported database backend: memory (valid options: sqlite, sqlite3, tidb, mysql)"
    )


def test_like_patterns_match_names_literally():
    conn = sqlite3.connect(":memory:")
    names = ["a_b/x", "a%b/x", "axb/x", "a_b", "a\\b/x", "a!b/x", "/top"]

    def matching(pattern: str, escape: str) -> list[str]:
        return [
            n
            for n in names
            if conn.execute("SELECT ? LIKE ? ESCAPE ?", (n, pattern, escape)).fetchone()[0]
        ]

    assert matching(like_below("a_b"), "\\") == ["a_b/x"]
    assert matching(like_below("a%b", "!"), "!") == ["a%b/x"]
    assert matching(like_below("a!b", "!"), "!") == ["a!b/x"]
    assert matching(escape_like("a\\b") + "/%", "\\") == ["a\\b/x"]
    assert matching(like_below("/", "!"), "!") == ["/top"]
    assert as_text(b"caf\xc3\xa9") == as_text(bytearray(b"caf\xc3\xa9")) == as_text("café")


def test_tls_modes_and_server_name():
    assert parse_mysql_dsn("u@tcp(h:1)/d?tls=skip-verify").tls_skip_verify
    assert not parse_mysql_dsn("u@tcp(h:1)/d?tls=false").tls
    options = mysql_options(
        {"dsn": "u@tcp(10.0.0.1:4000)/d", "enable_tls": True, "tls_server_name": "gw.example"}, "x"
    )
    ctx = options.ssl_context()
    assert isinstance(ctx, ssl.SSLContext) and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.server_name == "gw.example"
    assert mysql_options({}, "x").ssl_context() is None


@pytest.mark.parametrize("dsn", ["no-slash", "u@tcp(h:1/d", "u@tcp(h:99999)/d", "u@unix(/s)/d"])
def test_bad_dsn_is_invalid_argument(dsn):
    with pytest.raises(InvalidArgument):
        parse_mysql_dsn(dsn)


def test_config_keys_build_options_and_password_is_never_shown():
    o = mysql_options(
        {"host": "db", "port": "3310", "user": "app", "password": "s3cret"},
        default_database="kvdb",
        default_port=4000,
    )
    assert (o.address, o.user, o.database) == ("db:3310", "app", "kvdb")
    assert mysql_options({"host": "db"}, "q", default_port=4000).port == 4000
    assert "s3cret" not in repr(o)


async def test_sqlite_group_commit_keeps_other_writes_when_one_fails(tmp_path):
    db = SQLiteDatabase(str(tmp_path / "t.db"))
    await db.open()
    await db.write(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY)"))

    def insert(key: str):
        return lambda c: c.execute("INSERT INTO t VALUES (?)", (key,)).lastrowid

    def refuse(c):
        c.execute("INSERT INTO t VALUES ('partial')")
        raise NotFound("no such thing")

    results = await asyncio.gather(
        *(db.write(insert(f"k{i}")) for i in range(200)),
        db.write(insert("k0")),
        db.write(refuse),
        return_exceptions=True,
    )
    assert isinstance(results[200], AlreadyExists)
    assert isinstance(results[201], NotFound)
    rows = db.read(lambda c: c.execute("SELECT k FROM t").fetchall())
    assert sorted(r[0] for r in rows) == sorted(f"k{i}" for i in range(200))
    await db.close()
    with pytest.raises(Unavailable):
        await db.write(insert("late"))


async def test_sqlite_missing_directory_is_unavailable(tmp_path):
    with pytest.raises(Unavailable) as failed:
        await SQLiteDatabase(str(tmp_path / "nope" / "t.db")).open()
    assert "nope" in str(failed.value)


async def test_mysql_unreachable_names_host_and_port():
    port = free_port()
    db = MySQLDatabase(mysql_options({"port": port, "connect_timeout": 2}, "x"))
    with pytest.raises(Unavailable) as failed:
        await db.open()
    assert f"127.0.0.1:{port}" in str(failed.value)


async def test_sqlite_write_waits_for_another_process_lock_without_blocking(tmp_path):
    import sqlite3

    path = str(tmp_path / "busy.db")
    db = SQLiteDatabase(path, busy_timeout_ms=2000)
    await db.open()
    await db.write(lambda c: c.execute("CREATE TABLE t (v)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    write = asyncio.ensure_future(db.write(lambda c: c.execute("INSERT INTO t VALUES (1)")))
    ticks = 0
    for _ in range(10):  # the loop keeps running while the write waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert not write.done() and ticks == 10
    other.execute("COMMIT")
    await write
    assert db.read(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()) == (1,)
    other.execute("BEGIN IMMEDIATE")
    short = SQLiteDatabase(path, busy_timeout_ms=50)
    await short.open()
    with pytest.raises(Unavailable) as failed:
        await short.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    assert "busy" in str(failed.value)
    other.execute("ROLLBACK")
    other.close()
    await short.close()
    await db.close()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, ("127.0.0.1", 5432, "root", "xdb", False, False)),
        ({"host": "db", "port": 6543, "user": "u", "database": "d", "enable_tls": True},
         ("db", 6543, "u", "d", True, False)),
        ({"dsn": "postgresql://a:b%40c@h:7/d?sslmode=require"}, ("h", 7, "a", "d", True, True)),
        ({"dsn": "postgres://a@h/d?sslmode=verify-full"}, ("h", 5432, "a", "d", True, False)),
        ({"dsn": "postgresql://h/?sslmode=disable"}, ("h", 5432, "root", "xdb", False, False)),
    ],
)
def test_postgres_options(config, expected):
    o = postgres_options(config, "xdb")
    assert (o.host, o.port, o.user, o.database, o.tls, o.tls_skip_verify) == expected


def test_postgres_dsn_must_be_a_postgresql_url():
    with pytest.raises(InvalidArgument, match="postgresql://"):
        postgres_options({"dsn": "root@tcp(h:5432)/d"}, "xdb")


def test_choose_backend_offers_postgres_only_to_plugins_that_have_it():
    chosen = choose_backend("postgres", {"port": 6000}, sqlite=str, mysql=str,
                            postgres=lambda options: ("postgres", options.address),
                            sqlite_file="x.db", database="xdb")
    assert chosen == ("postgres", "127.0.0.1:6000")
    with pytest.raises(InvalidArgument, match=r"valid options: .*mysql\)$"):
        _choose("postgres")


def test_backend_is_shared():
    assert [backend_is_shared(n) for n in ("memory", "sqlite", "sqlite3")] == [False] * 3
    assert [backend_is_shared(n) for n in ("mysql", "tidb", "postgres")] == [True] * 3


def test_postgres_errors_say_which_are_the_database_being_away():
    import asyncpg

    from pfs.fs.errors import FSError, Timeout, TooLarge
    from pfs.sql.postgres import translate_error

    away = translate_error(ConnectionRefusedError("refused"), "db:5432")
    assert type(away) is Unavailable and "db:5432" in away.message
    assert type(translate_error(TimeoutError(), "db:5432")) is Timeout
    assert type(translate_error(asyncpg.UniqueViolationError("dup"), "db:5432")) is AlreadyExists
    assert type(translate_error(asyncpg.ProgramLimitExceededError("big"), "db:5432")) is TooLarge
    assert type(translate_error(asyncpg.AdminShutdownError("bye"), "db:5432")) is Unavailable
    # A statement given the wrong arguments is our fault, not the database being down.
    misuse = translate_error(asyncpg.DataError("invalid input for query argument $1"), "db:5432")
    assert type(misuse) is FSError
