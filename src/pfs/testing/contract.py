"""The FileSystem conformance suite every plugin runs (like ``fsspec.tests.abstract``).

A plugin's test module joins in a few lines::

    class MemfsFixtures(ContractFixtures):
        @pytest.fixture
        async def fs(self):
            fs = MemFS(validate_config("memfs", MemFS.config_schema, {}))
            await fs.start()
            yield fs
            await fs.shutdown()

    class TestMemfsReadWrite(ReadWriteTests, MemfsFixtures): pass

Capability fixtures (``supports_dirs``, ``supports_rename``, ``supports_chmod``) default to
True; set one to False for a plugin that cannot do it (the tests then check that it refuses).
``supports_random_write`` is what the plugin declares (``FileSystem.random_write``): a plugin
without random writes must refuse them with NotSupported. ``supports_truncate`` is whether the
plugin implements ``truncate`` (one that does not must refuse it with NotSupported).
``root`` is the directory the tests work in (``/`` by default).

A read-only plugin (the hello examples) joins ``ReadOnlyTests`` and ``ErrorTests`` only, with
``writable`` False and ``sample``, the ``(path, content)`` of a file it always serves.
``writable`` False also fits a service whose writes are not read back by ``read`` (streamfs:
streams are followed with ``open_stream``); the built-in services' ``/README`` is their sample.
``names_always_exist`` is True for a plugin that answers every name (queuefs: any name is a
queue, ``stat`` never fails and ``mkdir`` of an existing queue is no error): the tests then look
at the listing, not at ``stat``, to see what a refused operation left.
"""

from __future__ import annotations

import pytest

from pfs.fs import (
    AlreadyExists,
    FileSystem,
    FSError,
    NotFound,
    NotSupported,
    WriteFlag,
)


class ContractFixtures:
    @pytest.fixture
    async def fs(self):
        raise NotImplementedError("a plugin's test must provide the fs fixture")

    @pytest.fixture
    def root(self) -> str:
        return "/"

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return True

    @pytest.fixture
    def supports_rename(self) -> bool:
        return True

    @pytest.fixture
    def supports_chmod(self) -> bool:
        return True

    @pytest.fixture
    def supports_random_write(self, fs) -> bool:
        return fs.random_write

    @pytest.fixture
    def supports_truncate(self, fs) -> bool:
        return type(fs).truncate is not FileSystem.truncate

    @pytest.fixture
    def writable(self) -> bool:
        return True

    @pytest.fixture
    def names_always_exist(self) -> bool:
        return False

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        raise NotImplementedError("a read-only plugin's test must name a file it serves")


def _p(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


async def _names(fs, path: str) -> list[str]:
    return sorted(entry.name for entry in await fs.readdir(path))


async def _gone(
    fs, root: str, name: str, names_always_exist: bool, error: type[FSError] = NotFound
) -> None:
    """``name`` is not in ``root``: not listed, and (unless every name answers) ``error``."""
    assert name not in await _names(fs, root)
    if not names_always_exist:
        with pytest.raises(error):
            await fs.stat(_p(root, name))


async def _collect(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


class ReadWriteTests:
    async def test_write_then_read(self, fs, root):
        path = _p(root, "rw.txt")
        await fs.write(path, b"hello contract")
        assert await fs.read(path) == b"hello contract"
        assert await fs.read(path, 6, 8) == b"contract"
        assert await fs.read(path, 100) == b""
        assert (await fs.stat(path)).size == 14

    async def test_overwrite_replaces(self, fs, root):
        path = _p(root, "over.txt")
        await fs.write(path, b"long old content")
        await fs.write(path, b"new")
        assert await fs.read(path) == b"new"

    async def test_random_write(self, fs, root, supports_random_write):
        path = _p(root, "rand.bin")
        await fs.write(path, b"0123456789")
        if not supports_random_write:
            # A plugin without random writes must refuse them, not apply them wrongly.
            with pytest.raises(NotSupported):
                await fs.write(path, b"ab", 3, WriteFlag.CREATE)
            assert await fs.read(path) == b"0123456789"
            return
        await fs.write(path, b"ab", 3, WriteFlag.CREATE)
        await fs.write(path, b"!", 0, WriteFlag.APPEND)
        assert await fs.read(path) == b"012ab56789!"

    async def test_truncate(self, fs, root, supports_truncate):
        path = _p(root, "cut.bin")
        await fs.write(path, b"0123456789")
        if not supports_truncate:
            with pytest.raises(NotSupported):
                await fs.truncate(path, 3)
            assert await fs.read(path) == b"0123456789"
            return
        await fs.truncate(path, 4)
        assert await fs.read(path) == b"0123"
        await fs.truncate(path, 6)
        assert await fs.read(path) == b"0123\0\0"
        assert (await fs.stat(path)).size == 6
        await fs.truncate(path, 0)
        assert await fs.read(path) == b""
        with pytest.raises(NotFound):
            await fs.truncate(_p(root, "no-such-file"), 0)

    async def test_create_and_exists(self, fs, root):
        path = _p(root, "created")
        await fs.create(path)
        assert (await fs.stat(path)).size == 0
        with pytest.raises(AlreadyExists):
            await fs.create(path)

    async def test_remove(self, fs, root):
        path = _p(root, "gone")
        await fs.write(path, b"x")
        await fs.remove(path)
        with pytest.raises(NotFound):
            await fs.stat(path)


class DirectoryTests:
    async def test_mkdir_list_remove(self, fs, root, supports_dirs, writable,
                                     names_always_exist):
        d = _p(root, "dir")
        if not supports_dirs:
            with pytest.raises(FSError):  # refused, never half made
                await fs.mkdir(d, 0o755)
            await _gone(fs, root, "dir", names_always_exist)
            return
        await fs.mkdir(d, 0o755)
        assert "dir" in await _names(fs, root)
        if writable:
            await fs.write(_p(d, "a"), b"1")
        await fs.mkdir(_p(d, "sub"), 0o755)
        entries = {e.name: e for e in await fs.readdir(d)}
        assert set(entries) == ({"a", "sub"} if writable else {"sub"})
        assert entries["sub"].is_dir and (not writable or not entries["a"].is_dir)
        assert (await fs.stat(d)).is_dir
        with pytest.raises(FSError):
            await fs.remove(d)
        assert "dir" in await _names(fs, root)
        await fs.remove(d, recursive=True)
        await _gone(fs, root, "dir", names_always_exist)

    async def test_mkdir_existing(self, fs, root, supports_dirs, names_always_exist):
        d = _p(root, "twice")
        if not supports_dirs:
            with pytest.raises(FSError):
                await fs.mkdir(d, 0o755)
            return
        await fs.mkdir(d, 0o755)
        if names_always_exist:
            await fs.mkdir(d, 0o755)  # no error: the name was there all along
            assert (await _names(fs, root)).count("twice") == 1
            return
        with pytest.raises(AlreadyExists):
            await fs.mkdir(d, 0o755)


class RenameTests:
    async def test_rename_file(self, fs, root, supports_rename, writable):
        if not writable and not supports_rename:
            # Refused (a service has no files to move) and nothing moved or made.
            before = await _names(fs, root)
            with pytest.raises(FSError):
                await fs.rename(_p(root, before[0] if before else "from"), _p(root, "to"))
            assert await _names(fs, root) == before
            return
        await fs.write(_p(root, "from"), b"moving")
        if not supports_rename:
            with pytest.raises(FSError):  # refused, and the file stays where it was
                await fs.rename(_p(root, "from"), _p(root, "to"))
            assert await fs.read(_p(root, "from")) == b"moving"
            return
        await fs.rename(_p(root, "from"), _p(root, "to"))
        assert await fs.read(_p(root, "to")) == b"moving"
        with pytest.raises(NotFound):
            await fs.stat(_p(root, "from"))

    async def test_rename_missing(self, fs, root, supports_rename):
        with pytest.raises(NotFound if supports_rename else FSError):
            await fs.rename(_p(root, "nothing"), _p(root, "else"))


class StreamTests:
    async def test_read_stream_matches_read(self, fs, root):
        path = _p(root, "stream.bin")
        data = bytes(range(256)) * 8192  # 2 MiB
        await fs.write(path, data)
        assert await _collect(await fs.read_stream(path)) == data
        assert await _collect(await fs.read_stream(path, 1000, 5000)) == data[1000:6000]

    async def test_write_stream(self, fs, root):
        path = _p(root, "wstream.bin")

        async def chunks():
            for i in range(32):
                yield bytes([i]) * 65536

        await fs.write_stream(path, chunks())
        data = await fs.read(path)
        assert len(data) == 32 * 65536 and data[-1] == 31


class ErrorTests:
    async def test_missing_is_not_found(self, fs, root, names_always_exist):
        if names_always_exist:
            # Every name answers stat; a name never made still holds no data to read, and
            # probing it made nothing.
            await fs.stat(_p(root, "missing"))
            with pytest.raises(FSError):
                await fs.read(_p(root, "missing"))
            assert "missing" not in await _names(fs, root)
            return
        with pytest.raises(NotFound):
            await fs.read(_p(root, "missing"))
        with pytest.raises(NotFound):
            await fs.stat(_p(root, "missing"))

    async def test_chmod(self, fs, root, supports_chmod, writable, names_always_exist):
        path = _p(root, "mode")
        if not writable:
            # A read-only plugin refuses chmod or ignores it; it never creates anything.
            try:
                await fs.chmod(path, 0o600)
            except FSError:
                pass
            await _gone(fs, root, "mode", names_always_exist, FSError)
            return
        await fs.write(path, b"x")
        if not supports_chmod:
            # Either accepted as a no-op (s3fs, like the original) or refused; never harmful.
            try:
                await fs.chmod(path, 0o600)
            except NotSupported:
                pass
            assert await fs.read(path) == b"x"
            return
        await fs.chmod(path, 0o600)
        assert (await fs.stat(path)).mode & 0o777 == 0o600


class ReadOnlyTests:
    async def test_sample_reads(self, fs, sample):
        path, content = sample
        assert await fs.read(path) == content
        assert await fs.read(path, 1, 4) == content[1:5]
        assert await fs.read(path, len(content) + 10) == b""
        info = await fs.stat(path)
        assert (info.size, info.is_dir) == (len(content), False)
        parent = path.rsplit("/", 1)[0] or "/"
        assert (await fs.stat(parent)).is_dir
        assert path.rsplit("/", 1)[1] in [e.name for e in await fs.readdir(parent)]

    async def test_mutations_leave_the_sample_unchanged(self, fs, sample):
        path, content = sample
        parent = path.rsplit("/", 1)[0]
        attempts = [
            lambda: fs.write(path, b"changed"),
            lambda: fs.create(parent + "/new"),
            lambda: fs.mkdir(parent + "/dir", 0o755),
            lambda: fs.rename(path, parent + "/moved"),
            lambda: fs.chmod(path, 0o600),
            lambda: fs.truncate(path, 0),
            lambda: fs.remove(path),
        ]
        for attempt in attempts:
            # Refused with an FSError or answered without effect (a read-only plugin may report
            # the refusal as its write's message, as the native ABI does).
            try:
                await attempt()
            except FSError:
                pass
            assert await fs.read(path) == content
