// Changes under a path as they happen (GET /api/v1/watch, Server-Sent Events read through fetch,
// since EventSource cannot send the token). Calls onChange, at most once per QUIET_MS, after
// changes; ends when signal aborts. A server without /watch, or a refused one, just stays quiet.
import * as api from "./api.js";

const QUIET_MS = 150;

export async function watch(path, onChange, signal) {
  let timer = null;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, QUIET_MS);
  };
  try {
    const res = await api.request("GET", "watch", { params: { path, stat: "false" }, signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const type = /^event: ?(.*)$/m.exec(buffer.slice(0, cut))?.[1];
        buffer = buffer.slice(cut + 2);
        if (type && type !== "ready") changed();
      }
    }
  } catch {
    // aborted (the view was left) or no watch here: the listing just is not live
  } finally {
    clearTimeout(timer);
  }
}
