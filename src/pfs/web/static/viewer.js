// One file: preview (text, images, video, audio), download, edit and save, rename, delete.
// Saving sends If-Match with the ETag the file was read with, so a file changed meanwhile is
// refused (412) instead of overwritten; the user may then reload or overwrite on purpose.
import * as api from "./api.js";
import { crumbs, hashOf, remove, rename } from "./browse.js";
import { h, showError, status } from "./dom.js";
import { basename, humanSize, parent, when } from "./format.js";

// Text up to this size is shown whole and can be edited; larger files show their first part.
const EDIT_LIMIT = 1024 * 1024;
const HEAD_BYTES = 64 * 1024;

const IMAGE = /\.(png|jpe?g|gif|webp|svg|bmp|ico|avif)$/i;
const VIDEO = /\.(mp4|webm|ogv|mov|m4v)$/i;
const AUDIO = /\.(mp3|wav|ogg|oga|m4a|flac|opus)$/i;

function looksBinary(bytes) {
  return bytes.subarray(0, 8192).includes(0);
}

async function download(path) {
  const a = h("a", { href: await api.fileSource(path), download: basename(path) });
  document.body.append(a);
  a.click();
  a.remove();
}

export async function fileView(main, path, refresh) {
  const info = await api.json("GET", "stat", { params: { path } });
  if (info.isDir) {
    location.replace(hashOf("files", path));
    return;
  }
  const body = h("div", { id: "preview" });
  const actions = h("div", { class: "toolbar" },
    h("span", { class: "muted", id: "file-info" }, `${humanSize(info.size)} · modified ${when(info.modTime)}`),
    h("span", { class: "grow" }));
  main.replaceChildren(crumbs(path), actions, body);
  const button = (id, label, onclick, cls = "") => h("button", { id, class: cls, onclick: () => onclick().catch(showError) }, label);
  if (info.readEffect) {
    body.append(h("p", { class: "muted" }, `Reading this file has an effect (${info.readEffect}): it is not previewed.`));
  } else {
    actions.append(button("download", "Download", () => download(path)));
  }
  actions.append(
    button("rename", "Rename", async () => {
      const target = await rename(path);
      if (target) location.hash = hashOf("view", target);
    }),
    button("delete", "Delete", async () => {
      if (await remove(path, false)) location.hash = hashOf("files", parent(path));
    }, "danger"));
  if (info.readEffect) return;

  const name = basename(path);
  if (IMAGE.test(name)) {
    body.append(h("img", { class: "preview", alt: name, src: await api.fileSource(path) }));
  } else if (VIDEO.test(name)) {
    body.append(h("video", { class: "preview", controls: true, preload: "metadata", src: await api.fileSource(path) }));
  } else if (AUDIO.test(name)) {
    body.append(h("audio", { controls: true, preload: "metadata", src: await api.fileSource(path) }));
  } else {
    await textView(body, actions, path, info, refresh, button);
  }
}

async function textView(body, actions, path, info, refresh, button) {
  const whole = info.size <= EDIT_LIMIT;
  const res = await api.request("GET", "files", whole ? { params: { path } }
    : { params: { path }, headers: { Range: `bytes=0-${HEAD_BYTES - 1}` } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (looksBinary(bytes)) {
    body.append(h("p", { class: "muted" }, "A binary file: download it to open it."));
    return;
  }
  let etag = res.headers.get("ETag");
  const text = new TextDecoder().decode(bytes);
  const pre = h("pre", { class: "preview", id: "text" }, text);
  body.append(pre);
  if (!whole) {
    body.append(h("p", { class: "muted" }, `The first ${humanSize(HEAD_BYTES)} of ${humanSize(info.size)}.`));
    return;
  }
  const editor = h("textarea", { class: "code", id: "editor", spellcheck: false });
  const note = h("p", { class: "muted", id: "edit-note" });

  async function save(force) {
    const headers = etag && !force ? { "If-Match": etag } : {};
    try {
      await api.request("PUT", "files", { params: { path }, body: editor.value, headers });
    } catch (err) {
      if (err.status !== 412) throw err;
      note.className = "error";
      note.replaceChildren("The file changed on the server since it was opened. ",
        button("reload", "Reload it", refresh), " ",
        button("overwrite", "Overwrite it", () => save(true), "danger"));
      return;
    }
    etag = (await api.request("HEAD", "files", { params: { path } })).headers.get("ETag");
    status(`Saved ${path}`);
    pre.textContent = editor.value;
    editor.replaceWith(pre);
    note.replaceChildren();
    edit.hidden = false;
    saveButton.hidden = cancel.hidden = true;
  }

  const edit = button("edit", "Edit", async () => {
    editor.value = pre.textContent;
    pre.replaceWith(editor);
    editor.after(note);
    note.className = "muted";
    note.textContent = etag ? "Saving checks that nobody changed the file meanwhile (If-Match)."
      : "This file has no ETag: saving replaces whatever is there (last write wins).";
    edit.hidden = true;
    saveButton.hidden = cancel.hidden = false;
    editor.focus();
  });
  const saveButton = button("save", "Save", () => save(false), "primary");
  const cancel = button("cancel-edit", "Cancel", async () => {
    editor.replaceWith(pre);
    note.replaceChildren();
    edit.hidden = false;
    saveButton.hidden = cancel.hidden = true;
  });
  saveButton.hidden = cancel.hidden = true;
  actions.append(edit, saveButton, cancel);
}
