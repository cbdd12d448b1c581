// The tail of a live stream (streamfs): read with stream=true only after the user starts it,
// the last TAIL_CHARS characters kept on screen, stopped when the view is left.
import * as api from "./api.js";
import { crumbs } from "./browse.js";
import { h, showError } from "./dom.js";
import { humanSize } from "./format.js";

const TAIL_CHARS = 256 * 1024;

export function streamView(main, path) {
  const out = h("pre", { class: "tail", id: "tail" });
  const info = h("span", { class: "muted", id: "tail-info" }, "Not reading: start to follow the stream.");
  let controller = null;
  let received = 0;

  async function follow() {
    controller = new AbortController();
    start.disabled = true;
    stop.disabled = false;
    const decoder = new TextDecoder();
    try {
      const res = await api.request("GET", "files", { params: { path, stream: "true" }, signal: controller.signal });
      info.textContent = "Following…";
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.length;
        const text = (out.textContent + decoder.decode(value, { stream: true })).slice(-TAIL_CHARS);
        out.textContent = text;
        out.scrollTop = out.scrollHeight;
        info.textContent = `Following: ${humanSize(received)} received`;
      }
      info.textContent = `The stream ended after ${humanSize(received)}.`;
    } catch (err) {
      if (err.name === "AbortError") info.textContent = `Stopped after ${humanSize(received)}.`;
      else showError(err);
    } finally {
      start.disabled = false;
      stop.disabled = true;
      controller = null;
    }
  }

  const start = h("button", { class: "primary", id: "tail-start", onclick: follow }, "Start tail");
  const stop = h("button", { id: "tail-stop", disabled: true, onclick: () => controller?.abort() }, "Stop");
  main.replaceChildren(crumbs(path),
    h("div", { class: "toolbar" }, start, stop, h("button", { onclick: () => { out.textContent = ""; } }, "Clear"), info),
    out);
  return () => controller?.abort();
}
