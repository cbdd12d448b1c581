// A directory: breadcrumbs, a sortable and filterable listing, upload, mkdir, rename, delete,
// and the queue panel for queuefs queues.
import * as api from "./api.js";
import { ask, confirmAction } from "./dialog.js";
import { h, showError, status } from "./dom.js";
import { basename, humanSize, join, parent, parseTime, when } from "./format.js";
import { queuePanel } from "./queue.js";
import { watch } from "./watch.js";

// Kept across directories, as file managers do.
const sort = { key: "name", descending: false };
// The uploads of the directory last shown: they stay listed when its listing is refreshed.
let uploaded = { dir: null, list: null };

export function hashOf(view, path) {
  return `#/${view}${path.split("/").map(encodeURIComponent).join("/")}`;
}

export function crumbs(path, last = true) {
  const parts = path.split("/").filter(Boolean);
  const items = [h("a", { href: hashOf("files", "/") }, "/")];
  parts.forEach((part, i) => {
    const target = `/${parts.slice(0, i + 1).join("/")}`;
    if (i > 0) items.push(h("span", { class: "sep" }, "/"));
    items.push(last && i === parts.length - 1
      ? h("span", {}, part) : h("a", { href: hashOf("files", target) }, part));
  });
  return h("div", { class: "crumbs", id: "crumbs" }, ...items);
}

function compare(a, b) {
  if (a.isDir !== b.isDir) return a.isDir ? -1 : 1;
  let order;
  if (sort.key === "size") order = a.size - b.size;
  else if (sort.key === "modTime") order = parseTime(a.modTime) - parseTime(b.modTime);
  else order = 0;
  order ||= a.name.localeCompare(b.name, undefined, { numeric: true });
  return sort.descending ? -order : order;
}

const QUEUE_FILES = ["enqueue", "dequeue", "peek", "size"];

function isQueue(entries) {
  const names = new Set(entries.filter((e) => !e.isDir).map((e) => e.name));
  return QUEUE_FILES.every((name) => names.has(name));
}

export async function browse(main, path, refresh) {
  let entries;
  try {
    entries = await api.list(path);
  } catch (err) {
    if (err.kind !== "NotADirectory") throw err;
    location.replace(hashOf("view", path)); // a file's address typed as a folder's
    return;
  }
  const filter = h("input", { type: "search", id: "filter", placeholder: "Filter", "aria-label": "Filter" });
  const picker = h("input", { type: "file", id: "upload-input", multiple: true, hidden: true });
  if (uploaded.dir !== path) uploaded = { dir: path, list: h("ul", { class: "uploads", id: "uploads" }) };
  const uploads = uploaded.list;
  const tbody = h("tbody");
  const reload = refresh;

  const columns = [["name", "Name"], ["size", "Size"], ["modTime", "Modified"]];
  const headers = columns.map(([key, label]) => h("th", {
    class: `sortable ${key === "size" ? "size" : ""}`, dataset: { key },
    onclick: () => {
      sort.descending = sort.key === key ? !sort.descending : false;
      sort.key = key;
      fill();
    },
  }, label));

  function fill() {
    const needle = filter.value.trim().toLowerCase();
    const shown = entries.filter((e) => e.name.toLowerCase().includes(needle)).sort(compare);
    for (const th of headers) {
      th.setAttribute("aria-sort", th.dataset.key === sort.key ? (sort.descending ? "descending" : "ascending") : "none");
    }
    tbody.replaceChildren(...shown.map((entry) => row(path, entry, reload)));
    if (!shown.length) tbody.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, needle ? "Nothing matches." : "Empty directory.")));
  }
  filter.addEventListener("input", fill);

  picker.addEventListener("change", () => uploadAll(path, [...picker.files], uploads).then(reload, showError));
  const table = h("table", { class: "listing", id: "listing" },
    h("thead", {}, h("tr", {}, ...headers, h("th", {}, ""))), tbody);
  const zone = h("section", { id: "dropzone" }, uploads, table);
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("drop"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("drop");
    const files = [...(e.dataTransfer?.files || [])];
    if (files.length) uploadAll(path, files, uploads).then(reload, showError);
  });

  const toolbar = h("div", { class: "toolbar" },
    filter, h("span", { class: "grow" }),
    h("button", { id: "mkdir", onclick: () => mkdir(path).then((done) => done && reload(), showError) }, "New folder"),
    h("button", { id: "upload", class: "primary", onclick: () => picker.click() }, "Upload"),
    picker);
  const queue = isQueue(entries) ? queuePanel(path) : null;
  main.replaceChildren(crumbs(path), toolbar, ...(queue ? [queue.panel] : []),
    zone, h("p", { class: "muted" }, "Drop files on the listing to upload them here."));
  fill();
  // Live: a change under this directory lists it again (filter, sort and uploads stay).
  const stop = new AbortController();
  watch(path, async () => {
    try {
      entries = await api.list(path);
      fill();
      queue?.refresh();
    } catch (err) {
      showError(err);
    }
  }, stop.signal);
  return () => stop.abort();
}

function row(dir, entry, reload) {
  const path = join(dir, entry.name);
  let name;
  if (entry.isDir) name = h("a", { href: hashOf("files", path) }, h("span", { class: "icon dir" }), entry.name);
  else if (entry.readEffect === "endless") name = h("a", { href: hashOf("stream", path) }, h("span", { class: "icon stream" }), entry.name);
  else if (entry.readEffect) name = h("span", { title: "reading it has an effect: never read by itself" }, h("span", { class: "icon effect" }), entry.name);
  else name = h("a", { href: hashOf("view", path) }, h("span", { class: "icon file" }), entry.name);
  const badge = entry.readEffect ? h("span", { class: "badge" }, entry.readEffect) : null;
  const actions = h("td", { class: "actions" },
    h("button", { class: "small", dataset: { action: "rename" }, onclick: () => rename(path).then((done) => done && reload(), showError) }, "Rename"),
    " ",
    h("button", { class: "small danger", dataset: { action: "delete" }, onclick: () => remove(path, entry.isDir).then((done) => done && reload(), showError) }, "Delete"));
  return h("tr", { dataset: { name: entry.name } },
    h("td", { class: "name" }, name, badge),
    h("td", { class: "size", title: `${entry.size} bytes` }, entry.isDir ? "—" : humanSize(entry.size)),
    h("td", { class: "modified" }, when(entry.modTime)),
    actions);
}

async function uploadAll(dir, files, list) {
  for (const file of files) {
    const bar = h("progress", { max: file.size || 1, value: 0, dataset: { name: file.name } });
    const note = h("span", { class: "muted" }, humanSize(file.size));
    list.append(h("li", {}, h("span", {}, file.name), bar, note));
  }
  const bars = [...list.querySelectorAll("progress")].slice(-files.length);
  for (const [i, file] of files.entries()) {
    const bar = bars[i];
    await api.upload(join(dir, file.name), file, (loaded, total) => {
      bar.max = total || 1;
      bar.value = total ? loaded : 1;
      bar.nextSibling.textContent = `${humanSize(loaded)} of ${humanSize(total)}`;
    });
    bar.classList.add("done");
  }
  status(`Uploaded ${files.length} file${files.length === 1 ? "" : "s"} to ${dir}`);
}

async function mkdir(dir) {
  const name = await ask("New folder in " + dir);
  if (!name) return false;
  await api.request("POST", "directories", { params: { path: join(dir, name) } });
  status(`Created ${join(dir, name)}`);
  return true;
}

export async function rename(path) {
  const name = await ask(`Rename ${basename(path)} to`, basename(path));
  if (!name || name === basename(path)) return false;
  const target = name.startsWith("/") ? name : join(parent(path), name);
  await api.json("POST", "rename", { params: { path }, json: { newPath: target } });
  status(`Renamed ${path} to ${target}`);
  return target;
}

export async function remove(path, isDir) {
  const ok = await confirmAction(`Delete ${path}?`, isDir ? "The folder and everything in it will be removed." : "The file will be removed.");
  if (!ok) return false;
  await api.request("DELETE", "files", { params: isDir ? { path, recursive: "true" } : { path } });
  status(`Deleted ${path}`);
  return true;
}
