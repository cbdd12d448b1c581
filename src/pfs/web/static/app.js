// The web file manager's router: the part of the URL after # names the view and its path
// (#/files/memfs/docs, #/view/memfs/a.txt, #/stream/streamfs/live, #/mounts, #/server).
import { browse } from "./browse.js";
import { h, showError, status } from "./dom.js";
import { mountsView, serverView } from "./mounts.js";
import { streamView } from "./stream.js";
import { fileView } from "./viewer.js";

const VIEWS = { files: browse, view: fileView, stream: streamView, mounts: mountsView, server: serverView };

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const cut = hash.indexOf("/");
  const view = cut < 0 ? hash : hash.slice(0, cut);
  const rest = cut < 0 ? "" : hash.slice(cut);
  const path = `/${rest.split("/").filter(Boolean).map(decodeURIComponent).join("/")}`;
  return VIEWS[view] ? { view, path } : { view: "files", path: "/" };
}

let cleanup = null;
let generation = 0;

// Each render builds its view in a new <main> swapped in when done, so a slow render that a
// newer one overtook (a quick click, a refresh) never paints over it.
async function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const mine = ++generation;
  const hash = location.hash;
  const { view, path } = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (view === "mounts" || view === "server" ? view : "files"));
  }
  document.title = view === "mounts" || view === "server" ? `PFS ${view}` : `${path} · PFS`;
  const main = h("main", { id: "main" });
  let done = null;
  try {
    done = await VIEWS[view](main, path, render);
  } catch (err) {
    showError(err);
    main.replaceChildren(h("p", { class: "error", id: "view-error" }, err.message || String(err)),
      h("p", {}, h("a", { href: "#/files/" }, "Back to /")));
  }
  if (mine !== generation) {
    if (typeof done === "function") done();
    return;
  }
  document.getElementById("main").replaceWith(main);
  if (typeof done === "function") cleanup = done;
  document.body.dataset.rendered = hash; // tests wait for the hash they asked for
}

window.addEventListener("hashchange", () => {
  status("");
  render();
});
render();
