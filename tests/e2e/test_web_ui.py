"""The web file manager in real headless Chromium (selenium + the system's chromedriver) against a
real server with auth: browse, upload with progress, preview, edit and save (If-Match), rename,
delete, mkdir, a queue, a live stream's tail, mount/unmount and the token prompt.

One server and one browser for the module. Each test starts from a page load with the admin token
already in sessionStorage, except the auth test, which starts without one. Screenshots go to the
test's tmp dir and are copied to build/screenshots/ (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import httpx
import pytest

from pfs.testing.server import ServerProcess

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = "ui-admin-token"
READ_TOKEN = "ui-read-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
#: How long a condition may take to come true in a shared, busy machine (not a measured time).
PATIENCE = 30


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    problem = "chromium and chromedriver are needed (scripts/system-deps.sh installs them)"
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture(scope="module")
def server():
    config = {
        "server": {"auth": {"tokens": [{"token": TOKEN, "role": "admin"},
                                       {"token": READ_TOKEN, "role": "read"}]}},
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "streamfs": {"enabled": True, "path": "/streamfs"},
        },
    }
    with ServerProcess(config) as proc:
        yield proc


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.api, timeout=60,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    chromium, driver_path = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server, tmp_path, request):
    """The browser on a fresh load of the app, signed in with the admin token."""
    _sign_in(browser, server, TOKEN)
    return Page(browser, server, tmp_path, request.node.name)


def _sign_in(browser, server, token: str) -> None:
    """A fresh load of the app with ``token`` in sessionStorage (a prompt the load before may
    have opened is gone with that page)."""
    browser.get(server.url + "/#/")
    browser.execute_script("sessionStorage.setItem('pfs.token', arguments[0])", token)
    browser.refresh()


class Page:
    def __init__(self, driver, server, tmp_path: Path, test: str) -> None:
        self.driver = driver
        self.server = server
        self.tmp_path = tmp_path
        self.test = test

    def go(self, fragment: str) -> None:
        """Open a view (``files/memfs``) and wait until it has rendered."""
        self.driver.execute_script("location.hash = arguments[0]", "#/" + fragment)
        self.wait(lambda d: d.execute_script(
            "return document.body.dataset.rendered === location.hash"), f"{fragment} not shown")

    def wait(self, condition, message: str = ""):
        try:
            # An element re-rendered while looked at is looked up again on the next try.
            return WebDriverWait(self.driver, PATIENCE,
                                 ignored_exceptions=[StaleElementReferenceException]
                                 ).until(condition)
        except TimeoutException:
            status = self.driver.find_element(By.ID, "status").text
            raise AssertionError(f"{message} (status line: {status!r})") from None

    def find(self, css: str):
        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css), f"no {css}")

    def text_of(self, css: str, expected: str) -> None:
        self.wait(lambda d: expected in d.find_element(By.CSS_SELECTOR, css).text,
                  f"{expected!r} never shown in {css}")

    def click(self, css: str) -> None:
        self.find(css).click()

    def answer(self, text: str | None = None) -> None:
        """Answer the page's dialog: type ``text`` (if any), then OK."""
        self.wait(lambda d: d.find_element(By.ID, "dialog").get_attribute("open") is not None,
                  "no dialog opened")
        form = self.driver.find_element(By.CSS_SELECTOR, "#dialog form")
        if text is not None:
            field = self.driver.find_element(By.ID, "dialog-input")
            field.clear()
            field.send_keys(text)
        self.driver.find_element(By.ID, "dialog-ok").click()
        # Closed, or asking again (a wrong token): either way this question was answered.
        self.wait(lambda d: d.find_element(By.ID, "dialog").get_attribute("open") is None
                  or staleness_of(form)(d), "the dialog stayed open")

    def rows(self) -> list[str]:
        """The listed names in order (one script: a re-render cannot come in between)."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#listing tbody tr[data-name]')]"
            ".map((row) => row.dataset.name)")

    def row(self, name: str):
        return self.find(f'#listing tr[data-name="{name}"]')

    def screenshot(self, name: str) -> Path:
        path = self.tmp_path / f"{name}.png"
        self.driver.save_screenshot(str(path))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)
        return path


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour, made here (no image library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x20\x80\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _tree(api, base: str) -> None:
    api.delete("/files", params={"path": base, "recursive": "true"})
    assert api.post("/directories", params={"path": base}).status_code == 201
    assert api.post("/directories", params={"path": f"{base}/docs"}).status_code == 201
    for name, size in (("small.txt", 10), ("middle.log", 2048), ("big.bin", 3 << 20)):
        assert api.put("/files", params={"path": f"{base}/{name}"},
                       content=b"x" * size).status_code == 200


def test_page_and_assets_are_served_with_types_and_revalidation(server):
    """A browser gets the app at /, a JSON client the service document; assets carry their
    types and an ETag that answers 304; unknown or path-like asset names are 404."""
    html = httpx.get(server.url + "/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/ui/app.js">' in html.text
    assert httpx.get(server.url + "/").json()["service"] == "PFS Server"
    for name, ctype in (("app.js", "text/javascript"), ("pfs.css", "text/css")):
        r = httpx.get(f"{server.url}/ui/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype)
        assert r.headers["cache-control"] == "no-cache"
        again = httpx.get(f"{server.url}/ui/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    for bad in ("/ui/missing.js", "/ui/../pyproject.toml", "/ui/%2e%2e/x.js", "/ui/"):
        assert httpx.get(server.url + bad).status_code == 404, bad
    assert httpx.post(server.url + "/ui/app.js").status_code == 405


def test_auth_prompt_asks_for_a_token_and_keeps_it_for_the_session(browser, server, tmp_path):
    browser.get(server.url + "/#/server")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.url + "/#/files/")
    page = Page(browser, server, tmp_path, "auth")
    page.text_of("#dialog", "authentication required")
    page.screenshot("auth-prompt")
    page.answer("wrong-token")
    page.text_of("#dialog", "invalid token")  # asked again, saying why
    page.answer(TOKEN)
    page.wait(lambda d: "memfs" in page.rows(), "the root was not listed after the token")
    page.screenshot("root-after-token")
    assert browser.execute_script("return sessionStorage.getItem('pfs.token')") == TOKEN
    browser.refresh()  # kept for the browser session: no second prompt
    page.wait(lambda d: "queuefs" in page.rows(), "the root was not listed after a reload")
    assert browser.find_element(By.ID, "dialog").get_attribute("open") is None
    # Cancelled, the prompt leaves the page with the server's reason.
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    page.text_of("#dialog", "authentication required")
    page.click("#dialog-cancel")
    page.text_of("#view-error", "authentication required")


def test_a_read_token_cannot_change_anything(browser, server, api, tmp_path):
    """With a read-only token the UI lists, and a refused mkdir says why (403) in the status."""
    _tree(api, "/memfs/readonly")
    _sign_in(browser, server, READ_TOKEN)
    page = Page(browser, server, tmp_path, "read")
    page.go("files/memfs/readonly")
    page.wait(lambda d: "small.txt" in page.rows(), "not listed")
    page.click("#mkdir")
    page.answer("nope")
    page.text_of("#status.error", "write")
    assert api.get("/stat", params={"path": "/memfs/readonly/nope"}).status_code == 404


def test_browse_breadcrumbs_sizes_sorting_and_filter(page, api):
    _tree(api, "/memfs/browse")
    page.go("files/memfs/browse")
    assert page.rows() == ["docs", "big.bin", "middle.log", "small.txt"]  # folders first
    crumbs = page.driver.find_elements(By.CSS_SELECTOR, "#crumbs > *")
    assert [(c.tag_name, c.text) for c in crumbs] == [
        ("a", "/"), ("a", "memfs"), ("span", "/"), ("span", "browse")]
    sizes = {name: page.row(name).find_element(By.CSS_SELECTOR, "td.size").text
             for name in ("small.txt", "middle.log", "big.bin")}
    assert sizes == {"small.txt": "10 B", "middle.log": "2 KiB", "big.bin": "3 MiB"}
    size_header = page.find('th[data-key="size"]')
    size_header.click()
    assert page.rows() == ["docs", "small.txt", "middle.log", "big.bin"]
    assert size_header.get_attribute("aria-sort") == "ascending"
    size_header.click()
    assert page.rows() == ["docs", "big.bin", "middle.log", "small.txt"]
    page.find('th[data-key="name"]').click()
    page.find("#filter").send_keys(".LOG")
    assert page.rows() == ["middle.log"]
    page.screenshot("browse")
    page.driver.find_element(By.LINK_TEXT, "memfs").click()  # a breadcrumb
    page.wait(lambda d: "browse" in page.rows(), "the parent was not listed")


def test_listing_follows_changes_made_elsewhere(page, api):
    """A change under the shown directory (here through the API) lists it again: no reload,
    the filter stays."""
    _tree(api, "/memfs/live")
    page.go("files/memfs/live")
    page.find("#filter").send_keys(".txt")
    assert page.rows() == ["small.txt"]
    api.put("/files", params={"path": "/memfs/live/new.txt"}, content=b"n")
    page.wait(lambda d: page.rows() == ["new.txt", "small.txt"], "the new file was not listed")
    api.delete("/files", params={"path": "/memfs/live/small.txt"})
    page.wait(lambda d: page.rows() == ["new.txt"], "the removed file is still listed")
    assert page.find("#filter").get_attribute("value") == ".txt"


def test_names_with_url_characters(page, api):
    """Names holding #, ?, % and spaces browse, open and rename like any other."""
    base = "/memfs/odd #1"
    api.delete("/files", params={"path": base, "recursive": "true"})
    api.post("/directories", params={"path": base})
    api.put("/files", params={"path": f"{base}/50% off?.txt"}, content=b"odd text")
    page.go("files/memfs")
    page.row("odd #1").find_element(By.TAG_NAME, "a").click()
    page.wait(lambda d: page.rows() == ["50% off?.txt"], "the odd folder was not listed")
    page.row("50% off?.txt").find_element(By.TAG_NAME, "a").click()
    page.text_of("#text", "odd text")
    page.click("#rename")
    page.answer("a&b #2.txt")
    page.text_of("#crumbs", "a&b #2.txt")
    page.text_of("#text", "odd text")
    assert api.get("/files", params={"path": f"{base}/a&b #2.txt"}).text == "odd text"


def test_upload_several_files_with_progress_and_by_drop(page, api):
    api.delete("/files", params={"path": "/memfs/up", "recursive": "true"})
    api.post("/directories", params={"path": "/memfs/up"})
    big = page.tmp_path / "big.dat"
    big.write_bytes(os.urandom(8 << 20))
    small = page.tmp_path / "note.txt"
    small.write_text("a note\n")
    page.go("files/memfs/up")
    page.find("#upload-input").send_keys(f"{big}\n{small}")
    page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads progress.done")) == 2,
              "the uploads did not finish")
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#uploads progress")
    shown = [(b.get_attribute("data-name"), b.get_attribute("value"), b.get_attribute("max"))
             for b in bars]
    assert shown == [("big.dat", str(8 << 20), str(8 << 20)), ("note.txt", "7", "7")]
    page.screenshot("upload")
    page.wait(lambda d: {"big.dat", "note.txt"} <= set(page.rows()), "not listed after upload")
    assert api.get("/files", params={"path": "/memfs/up/big.dat"}).content == big.read_bytes()
    assert api.get("/files", params={"path": "/memfs/up/note.txt"}).text == "a note\n"
    # Drag and drop: the same drop event a desktop drag delivers, with a File in it.
    page.driver.execute_script("""
        const data = new DataTransfer();
        data.items.add(new File(['dropped bytes'], 'dropped.txt', {type: 'text/plain'}));
        document.getElementById('dropzone').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    """)
    page.wait(lambda d: "dropped.txt" in page.rows(), "the dropped file was not listed")
    assert api.get("/files", params={"path": "/memfs/up/dropped.txt"}).text == "dropped bytes"


def test_preview_text_and_image_never_a_read_effect_file(page, api):
    api.put("/files", params={"path": "/memfs/readme.md"}, content=b"# Title\nsome text\n")
    api.put("/files", params={"path": "/memfs/dot.png"}, content=_png(3, 2))
    page.go("view/memfs/readme.md")
    page.text_of("#text", "some text")
    page.go("view/memfs/dot.png")
    image = page.find("img.preview")
    page.wait(lambda d: image.get_property("naturalWidth") == 3, "the image did not load")
    assert image.get_property("naturalHeight") == 2
    page.screenshot("preview-image")
    # Text over 1 MiB: only its first 64 KiB are fetched (a Range request), shown, not editable.
    api.put("/files", params={"path": "/memfs/long.txt"}, content=b"0123456789abcdef" * 70000)
    page.go("files/memfs/long.txt")  # a file's address as a folder's: shown as the file
    page.text_of("#preview", "The first 64 KiB of 1.1 MiB")
    assert len(page.find("#text").get_attribute("textContent")) == 64 * 1024
    assert not page.driver.find_elements(By.ID, "edit")
    # A queue's dequeue: viewed, nothing is read (the message stays).
    api.put("/files", params={"path": "/queuefs/pv/enqueue"}, content=b"keep me")
    page.go("view/queuefs/pv/dequeue")
    page.text_of("#preview", "has an effect (consumes)")
    assert api.get("/files", params={"path": "/queuefs/pv/size"}).text.strip() == "1"
    assert not page.driver.find_elements(By.ID, "download")


# A short WebM made by the browser itself (a canvas recorded with MediaRecorder), then stored.
_RECORD_CLIP = """
const done = arguments[arguments.length - 1];
const canvas = Object.assign(document.createElement("canvas"), {width: 64, height: 48});
const paint = canvas.getContext("2d");
const recorder = new MediaRecorder(canvas.captureStream(10), {mimeType: "video/webm"});
const chunks = [];
recorder.ondataavailable = (e) => chunks.push(e.data);
let frame = 0;
const timer = setInterval(() => {
  paint.fillStyle = frame++ % 2 ? "red" : "blue";
  paint.fillRect(0, 0, 64, 48);
}, 40);
recorder.onstop = async () => {
  clearInterval(timer);
  const clip = new Blob(chunks, {type: "video/webm"});
  const res = await fetch("/api/v1/files?path=/memfs/clip.webm", {method: "PUT", body: clip,
    headers: {Authorization: "Bearer " + sessionStorage.getItem("pfs.token")}});
  done([res.status, clip.size]);
};
recorder.start();
setTimeout(() => recorder.stop(), 600);
"""


def test_preview_video(page, api):
    status, size = page.driver.execute_async_script(_RECORD_CLIP)
    assert status == 200 and size > 0
    page.go("view/memfs/clip.webm")
    video = page.find("video.preview")
    page.wait(lambda d: video.get_property("videoWidth") == 64, "the video did not load")
    assert video.get_property("videoHeight") == 48
    page.screenshot("preview-video")


def test_download(page, api, downloads):
    content = os.urandom(300_000)
    api.put("/files", params={"path": "/memfs/get me.bin"}, content=content)
    page.go("view/memfs/get%20me.bin")
    page.text_of("#preview", "binary file")
    page.click("#download")
    target = downloads / "get me.bin"
    page.wait(lambda d: target.exists() and target.read_bytes() == content, "not downloaded")


def test_edit_and_save_with_if_match(page, api):
    path = "/memfs/edit.txt"
    api.put("/files", params={"path": path}, content=b"first version\n")
    page.go("view/memfs/edit.txt")
    page.text_of("#text", "first version")
    page.click("#edit")
    editor = page.find("#editor")
    editor.clear()
    editor.send_keys("second version")
    page.screenshot("edit")
    page.click("#save")
    page.text_of("#status", "Saved /memfs/edit.txt")
    assert api.get("/files", params={"path": path}).text == "second version"
    # Someone else writes meanwhile: the save is refused (412), then overwritten on purpose.
    page.click("#edit")
    editor = page.find("#editor")
    editor.clear()
    editor.send_keys("mine")
    api.put("/files", params={"path": path}, content=b"theirs, longer than before")
    page.click("#save")
    page.text_of("#edit-note", "changed on the server")
    assert api.get("/files", params={"path": path}).text == "theirs, longer than before"
    page.click("#overwrite")
    page.text_of("#text", "mine")  # the editor closes once the save is done
    assert api.get("/files", params={"path": path}).text == "mine"


def test_mkdir_rename_and_delete(page, api):
    _tree(api, "/memfs/ops")
    page.go("files/memfs/ops")
    page.click("#mkdir")
    page.answer("made")
    page.wait(lambda d: "made" in page.rows(), "the new folder was not listed")
    assert api.get("/stat", params={"path": "/memfs/ops/made"}).json()["isDir"]
    page.row("small.txt").find_element(By.CSS_SELECTOR, '[data-action="rename"]').click()
    page.answer("renamed.txt")
    page.wait(lambda d: "renamed.txt" in page.rows() and "small.txt" not in page.rows(),
              "the rename was not shown")
    assert api.get("/files", params={"path": "/memfs/ops/renamed.txt"}).content == b"x" * 10
    assert api.get("/stat", params={"path": "/memfs/ops/small.txt"}).status_code == 404
    page.row("docs").find_element(By.CSS_SELECTOR, '[data-action="delete"]').click()
    page.answer()
    page.wait(lambda d: "docs" not in page.rows(), "the deleted folder is still listed")
    assert api.get("/stat", params={"path": "/memfs/ops/docs"}).status_code == 404
    # Cancelling a delete changes nothing.
    page.row("renamed.txt").find_element(By.CSS_SELECTOR, '[data-action="delete"]').click()
    page.click("#dialog-cancel")
    assert api.get("/stat", params={"path": "/memfs/ops/renamed.txt"}).status_code == 200


def test_queue_enqueue_peek_dequeue(page, api):
    api.delete("/files", params={"path": "/queuefs/jobs", "recursive": "true"})
    api.put("/files", params={"path": "/queuefs/jobs/enqueue"}, content=b"from the api")
    page.go("files/queuefs/jobs")
    page.text_of("#queue-size", "1")  # the listing read size, nothing else
    assert "dequeue" in page.rows()
    page.find("#queue-message").send_keys("from the browser")
    page.click("#queue-enqueue")
    page.text_of("#queue-size", "2")
    page.click("#queue-peek")
    page.text_of("#queue-out", "Next: from the api")
    page.text_of("#queue-size", "2")
    page.click("#queue-dequeue")
    page.text_of("#queue-out", "Dequeued: from the api")
    page.text_of("#queue-size", "1")
    page.screenshot("queue")
    page.click("#queue-dequeue")
    page.text_of("#queue-out", "Dequeued: from the browser")
    page.text_of("#queue-size", "0")
    assert api.get("/files", params={"path": "/queuefs/jobs/size"}).text.strip() == "0"
    page.find("#queue-message").send_keys("by Enter\n")
    page.text_of("#queue-size", "1")
    assert api.get("/files", params={"path": "/queuefs/jobs/peek"}).json()["data"] == "by Enter"


def test_live_stream_tail(page, api):
    path = "/streamfs/ui-live"
    api.put("/files", params={"path": path}, content=b"history line\n")
    page.go("stream/streamfs/ui-live")

    def readers() -> int:
        meta = api.get("/stat", params={"path": path}).json()["meta"]["Content"]
        return int(meta["active_readers"])

    assert readers() == 0  # opening the view reads nothing until the user starts it
    page.click("#tail-start")
    page.text_of("#tail", "history line")
    api.put("/files", params={"path": path}, content=b"a live line\n")
    page.text_of("#tail", "a live line")
    page.screenshot("stream-tail")
    page.click("#tail-stop")
    page.text_of("#tail-info", "Stopped")
    page.wait(lambda d: readers() == 0, "the reader was not closed by Stop")


def test_mount_with_config_form_and_unmount(page, api, tmp_path):
    (tmp_path / "from-disk.txt").write_text("on disk")
    page.go("mounts")
    page.find('#mount-plugin option[value="localfs"]').click()
    page.find("#config-local_dir").send_keys(str(tmp_path))
    path = page.find("#mount-path")
    path.clear()
    path.send_keys("/ui-local")
    page.screenshot("mounts")
    page.click("#mount-submit")
    page.find('#mounts tr[data-path="/ui-local"]')
    assert api.get("/files", params={"path": "/ui-local/from-disk.txt"}).text == "on disk"
    # A refused mount says why and mounts nothing.
    path = page.find("#mount-path")
    path.clear()
    path.send_keys("/ui-local")
    page.click("#mount-submit")
    page.text_of("#status.error", "/ui-local")
    row = page.find('#mounts tr[data-path="/ui-local"]')
    row.find_element(By.CSS_SELECTOR, '[data-action="unmount"]').click()
    page.answer()
    page.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, '#mounts tr[data-path="/ui-local"]'),
              "still listed after unmount")
    paths = [m["path"] for m in api.get("/mounts").json()["mounts"]]
    assert "/ui-local" not in paths and "/memfs" in paths


def test_server_info(page):
    page.go("server")
    page.text_of("#server-info", "healthy")
    page.text_of("#server-info", "with a token")


def test_httpfs_listing_has_the_same_look(page, api):
    """An httpfs listing is styled by the web UI's stylesheet (inline) and has breadcrumbs."""
    from pfs.testing.server import free_port

    _tree(api, "/memfs/shared")
    port = free_port()
    r = api.post("/mount", json={"fstype": "httpfs", "path": "/ui-web",
                                 "config": {"pfs_path": "/memfs/shared", "port": port}})
    assert r.status_code == 200, r.text
    try:
        page.driver.get(f"http://127.0.0.1:{port}/")
        table = page.find("table.listing")
        assert table.value_of_css_property("border-collapse") == "collapse"
        sizes = [td.text for td in page.driver.find_elements(By.CSS_SELECTOR, "td.size")]
        assert sizes == ["—", "3 MiB", "2 KiB", "10 B"]
        page.screenshot("httpfs-listing")
        page.driver.find_element(By.LINK_TEXT, "docs/").click()
        page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "nav.crumbs span"), "no crumbs")
        crumbs = page.driver.find_elements(By.CSS_SELECTOR, "nav.crumbs > *")
        assert [(c.tag_name, c.text) for c in crumbs] == [("a", "/"), ("span", "docs")]
    finally:
        api.post("/unmount", json={"path": "/ui-web"})
