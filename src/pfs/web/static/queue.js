// A queuefs queue: its size (read by itself: reading size takes nothing), and peek, dequeue and
// enqueue only when the user asks (dequeue takes the message away). queuePanel gives the panel
// and its refresh (the listing calls it when the queue changes).
import * as api from "./api.js";
import { h, showError, status } from "./dom.js";
import { join } from "./format.js";

async function text(path) {
  return (await api.request("GET", "files", { params: { path } })).text();
}

function shownMessage(raw) {
  try {
    const message = JSON.parse(raw);
    return message.id === undefined ? "(empty)" : `${message.data}   (id ${message.id})`;
  } catch {
    return raw;
  }
}

export function queuePanel(dir) {
  const size = h("strong", { id: "queue-size" }, "…");
  const out = h("pre", { class: "preview", id: "queue-out", hidden: true });
  const message = h("input", { id: "queue-message", placeholder: "Message", size: 40 });
  const refresh = () => text(join(dir, "size")).then((n) => { size.textContent = n.trim(); }, showError);
  const show = (label, raw) => {
    out.hidden = false;
    out.textContent = `${label}: ${shownMessage(raw)}`;
  };
  const act = (fn) => () => fn().then(refresh).catch(showError);
  const enqueue = act(async () => {
    if (!message.value) return;
    await api.request("PUT", "files", { params: { path: join(dir, "enqueue") }, body: message.value });
    status(`Enqueued to ${dir}`);
    message.value = "";
  });
  message.addEventListener("keydown", (e) => {
    if (e.key === "Enter") enqueue();
  });
  refresh();
  const panel = h("div", { class: "panel", id: "queue" },
    h("div", { class: "toolbar" },
      h("span", {}, "Queue ", h("code", {}, dir), ": ", size, " messages"),
      h("button", { class: "small", id: "queue-refresh", onclick: refresh }, "Refresh"),
      h("span", { class: "grow" }),
      message,
      h("button", { class: "primary", id: "queue-enqueue", onclick: enqueue }, "Enqueue"),
      h("button", { id: "queue-peek", onclick: act(async () => show("Next", await text(join(dir, "peek")))) }, "Peek"),
      h("button", { id: "queue-dequeue", class: "danger", onclick: act(async () => show("Dequeued", await text(join(dir, "dequeue")))) }, "Dequeue")),
    out);
  return { panel, refresh };
}
