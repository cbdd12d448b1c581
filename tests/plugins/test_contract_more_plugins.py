"""localfs, kvfs (memory and SQLite), hellofs, the Python, native and WASM hello examples and the
AGFS-ABI native test plugin (agfsmemfs) run the shared FileSystem conformance suite
(pfs.testing.contract) in process."""

from __future__ import annotations

import asyncio

import pytest

from pfs.external.native import AGFS_ABI, NativePlugin
from pfs.external.wasm import WasmLimits, WasmPlugin, WasmRuntime
from pfs.fs import FSError, validate_config
from pfs.plugins.hellofs import HELLO, HelloFS
from pfs.plugins.kvfs import KVFS
from pfs.plugins.localfs import LocalFS
from pfs.plugins.memfs import MemFS
from pfs.testing.contract import (
    ContractFixtures,
    DirectoryTests,
    ErrorTests,
    ReadOnlyTests,
    ReadWriteTests,
    RenameTests,
    StreamTests,
)
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from tests.helpers.external import EXAMPLES, HELLO_C, built_plugins

# A memfs-only server per module; the root conftest's ``api`` talks to it.
server = server_fixture(MEMFS_ONLY)


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)


async def started(fs):
    await fs.start()
    return fs


class LocalfsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self, tmp_path):
        config = validate_config("localfs", LocalFS.config_schema, {"local_dir": str(tmp_path)})
        fs = await started(LocalFS(config))
        yield fs
        await fs.shutdown()


class KvfsFixtures(ContractFixtures):
    """Keys live under /keys; kvfs has no directories and no permission bits."""

    @pytest.fixture(params=["memory", "sqlite"])
    async def fs(self, request, tmp_path):
        config = {"backend": request.param, "db_path": str(tmp_path / "kv.db")}
        if request.param == "memory":
            del config["db_path"]
        fs = await started(KVFS(validate_config("kvfs", KVFS.config_schema, config)))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def root(self) -> str:
        return "/keys"

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return False

    @pytest.fixture
    def supports_chmod(self) -> bool:
        return False  # chmod is refused with NotSupported


#: The external-plugin ABIs carry an error as text only, so the host raises a plain FSError
#: (HTTP 500, as the original server) where the contract wants NotFound; typing it would change
#: the served status, which issue 13 keeps.
UNTYPED_ERRORS = pytest.mark.xfail(
    strict=True,
    raises=FSError,
    reason="external plugin errors are untyped FSError, not NotFound or AlreadyExists",
)


class HelloFixtures(ContractFixtures):
    @pytest.fixture
    def writable(self) -> bool:
        return False


class HellofsFixtures(HelloFixtures):
    @pytest.fixture
    async def fs(self):
        fs = await started(HelloFS(validate_config("hellofs", HelloFS.config_schema, {})))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/hello", HELLO


class PythonHelloFixtures(HelloFixtures):
    """The example package from its sources (installing it is test_external_python's part)."""

    @pytest.fixture
    async def fs(self, monkeypatch):
        monkeypatch.syspath_prepend(str(EXAMPLES / "python-hello" / "src"))
        from pfs_python_hello import PyHelloFS

        config = validate_config("pyhello", PyHelloFS.config_schema, {"greeting": "Hi"})
        fs = await started(PyHelloFS(config))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/hello", b"Hi\n"


@pytest.fixture(scope="module")
def native_hello(plugin_files):
    """One loaded hellofs-c for the module (a library loads once per path)."""
    plugin = NativePlugin.open(str(plugin_files["hellofs-c"]))
    yield plugin
    plugin.release()


class NativeHelloFixtures(HelloFixtures):
    @pytest.fixture
    async def fs(self, native_hello):
        plugin = native_hello
        fs = await started(plugin(plugin.check_config({})))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/hello", HELLO_C


class AgfsMemfsFixtures(ContractFixtures):
    """A writable native plugin with AGFS's ABI (offsets and flags reach its FSWrite); each test
    gets a fresh instance, so a fresh store."""

    @pytest.fixture
    async def fs(self, plugin_files):
        plugin = NativePlugin.open(str(plugin_files["agfsmemfs"]), AGFS_ABI)
        fs = await started(plugin(plugin.check_config({})))
        yield fs
        await fs.shutdown()
        plugin.release()


class WasmHelloFixtures(HelloFixtures):
    @pytest.fixture
    async def fs(self, plugin_files):
        runtime = WasmRuntime(WasmLimits())
        host = MemFS(validate_config("memfs", MemFS.config_schema, {}))
        wasm = plugin_files["hellofs-wasm"].read_bytes()
        plugin = WasmPlugin("hellofs", wasm, runtime, host, asyncio.get_running_loop())
        fs = await started(plugin(plugin.check_config({})))
        yield fs
        await fs.shutdown()
        await plugin.aclose()
        runtime.close()

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/hello.txt", b"Hello World\n"


class TestLocalfsReadWrite(ReadWriteTests, LocalfsFixtures):
    pass


class TestLocalfsDirectories(DirectoryTests, LocalfsFixtures):
    pass


class TestLocalfsRename(RenameTests, LocalfsFixtures):
    pass


class TestLocalfsStreams(StreamTests, LocalfsFixtures):
    pass


class TestLocalfsErrors(ErrorTests, LocalfsFixtures):
    pass


class TestKvfsReadWrite(ReadWriteTests, KvfsFixtures):
    pass


class TestKvfsDirectories(DirectoryTests, KvfsFixtures):
    pass


class TestKvfsRename(RenameTests, KvfsFixtures):
    pass


class TestKvfsStreams(StreamTests, KvfsFixtures):
    pass


class TestKvfsErrors(ErrorTests, KvfsFixtures):
    pass


class TestHellofsReadOnly(ReadOnlyTests, HellofsFixtures):
    pass


class TestHellofsErrors(ErrorTests, HellofsFixtures):
    pass


class TestPythonHelloReadOnly(ReadOnlyTests, PythonHelloFixtures):
    pass


class TestPythonHelloErrors(ErrorTests, PythonHelloFixtures):
    pass


class TestNativeHelloReadOnly(ReadOnlyTests, NativeHelloFixtures):
    pass


class TestNativeHelloErrors(ErrorTests, NativeHelloFixtures):
    @UNTYPED_ERRORS
    async def test_missing_is_not_found(self, fs, root, names_always_exist):
        await super().test_missing_is_not_found(fs, root, names_always_exist)


class TestWasmHelloReadOnly(ReadOnlyTests, WasmHelloFixtures):
    pass


class TestWasmHelloErrors(ErrorTests, WasmHelloFixtures):
    @UNTYPED_ERRORS
    async def test_missing_is_not_found(self, fs, root, names_always_exist):
        await super().test_missing_is_not_found(fs, root, names_always_exist)


# The err-string functions (FSCreate, FSMkdir, FSRename, ...), FSRead and FSStat carry no error
# kind in either native ABI, so these raise plain FSError where the suite wants NotFound or
# AlreadyExists (only FSWrite's -errno results are typed); each still checks everything up to it.
class TestAgfsMemfsReadWrite(ReadWriteTests, AgfsMemfsFixtures):
    @UNTYPED_ERRORS
    async def test_create_and_exists(self, fs, root):
        await super().test_create_and_exists(fs, root)

    @UNTYPED_ERRORS
    async def test_remove(self, fs, root):
        await super().test_remove(fs, root)


class TestAgfsMemfsDirectories(DirectoryTests, AgfsMemfsFixtures):
    @UNTYPED_ERRORS
    async def test_mkdir_list_remove(self, fs, root, supports_dirs, writable,
                                     names_always_exist):
        await super().test_mkdir_list_remove(fs, root, supports_dirs, writable,
                                             names_always_exist)

    @UNTYPED_ERRORS
    async def test_mkdir_existing(self, fs, root, supports_dirs, names_always_exist):
        await super().test_mkdir_existing(fs, root, supports_dirs, names_always_exist)


class TestAgfsMemfsRename(RenameTests, AgfsMemfsFixtures):
    @UNTYPED_ERRORS
    async def test_rename_file(self, fs, root, supports_rename, writable):
        await super().test_rename_file(fs, root, supports_rename, writable)

    @UNTYPED_ERRORS
    async def test_rename_missing(self, fs, root, supports_rename):
        await super().test_rename_missing(fs, root, supports_rename)


class TestAgfsMemfsStreams(StreamTests, AgfsMemfsFixtures):
    pass


class TestAgfsMemfsErrors(ErrorTests, AgfsMemfsFixtures):
    @UNTYPED_ERRORS
    async def test_missing_is_not_found(self, fs, root, names_always_exist):
        await super().test_missing_is_not_found(fs, root, names_always_exist)
