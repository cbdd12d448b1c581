// Mounts: the mount table with unmount, and a form to mount any plugin whose fields come from
// the plugin's config schema (GET /plugins?format=agfs gives each plugin's config_params).
import * as api from "./api.js";
import { confirmAction } from "./dialog.js";
import { h, showError, status } from "./dom.js";
import { hashOf } from "./browse.js";

// A typed value for the API from the text of a field; "" leaves the key out (its default).
function valueOf(param, input) {
  if (param.type === "bool") return input.value === "" ? undefined : input.value === "true";
  const text = input.value.trim();
  if (text === "") return undefined;
  if (param.type === "int" || param.type === "number" || param.type === "port") {
    const number = Number(text);
    if (Number.isNaN(number)) throw new Error(`${param.name}: ${text} is not a number`);
    return number;
  }
  if (param.type === "list" || param.type === "map") {
    try {
      return JSON.parse(text);
    } catch {
      if (param.type === "list") return text.split(",").map((item) => item.trim());
      throw new Error(`${param.name}: give a JSON object, e.g. {"key": "value"}`);
    }
  }
  return text;
}

function field(param) {
  const id = `config-${param.name}`;
  let input;
  if (param.type === "bool") {
    input = h("select", { id, name: param.name },
      h("option", { value: "" }, `default${param.default ? ` (${param.default})` : ""}`),
      h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  } else {
    const numeric = ["int", "number", "port"].includes(param.type);
    input = h("input", { id, name: param.name, type: param.type === "password" ? "password" : "text",
      inputmode: numeric ? "numeric" : undefined, placeholder: param.default || param.type, required: param.required });
  }
  const label = h("label", { for: id }, param.name, param.required ? " *" : "");
  const help = param.description ? [h("div", { class: "help" }, param.description)] : [];
  return { param, input, nodes: [label, input, ...help] };
}

export async function mountsView(main, _path, refresh) {
  const [{ mounts }, { plugins }] = await Promise.all([
    api.json("GET", "mounts"), api.json("GET", "plugins", { params: { format: "agfs" } })]);
  const rows = (mounts || []).map((m) => h("tr", { dataset: { path: m.path } },
    h("td", { class: "name" }, h("a", { href: hashOf("files", m.path) }, m.path)),
    h("td", {}, m.pluginName),
    h("td", { class: m.status === "failed" ? "error" : "" }, m.status, m.error ? `: ${m.error}` : ""),
    h("td", { class: "actions" }, h("button", { class: "small danger", dataset: { action: "unmount" }, onclick: async () => {
      try {
        if (!(await confirmAction(`Unmount ${m.path}?`, "Its files stay in the plugin's back end; a memory plugin's are gone.", "Unmount"))) return;
        await api.json("POST", "unmount", { json: { path: m.path } });
        status(`Unmounted ${m.path}`);
        await refresh();
      } catch (err) {
        showError(err);
      }
    } }, "Unmount"))));

  const byName = new Map(plugins.map((p) => [p.name, p]));
  const select = h("select", { id: "mount-plugin", name: "fstype" },
    ...plugins.map((p) => h("option", { value: p.name }, p.name)));
  const path = h("input", { id: "mount-path", name: "path", placeholder: "/mnt/example", required: true });
  const fieldsBox = h("div", { style: "display: contents" });
  let fields = [];
  function showFields() {
    fields = (byName.get(select.value)?.config_params || []).map(field);
    fieldsBox.replaceChildren(...fields.flatMap((f) => f.nodes));
    if (!path.value || path.dataset.auto) {
      path.value = `/${select.value}`;
      path.dataset.auto = "1";
    }
  }
  path.addEventListener("input", () => delete path.dataset.auto);
  select.addEventListener("change", showFields);
  const form = h("form", { class: "config", id: "mount-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const config = {};
      for (const f of fields) {
        const value = valueOf(f.param, f.input);
        if (value !== undefined) config[f.param.name] = value;
      }
      await api.json("POST", "mount", { json: { fstype: select.value, path: path.value, config } });
      status(`Mounted ${select.value} at ${path.value}`);
      await refresh();
    } catch (err) {
      showError(err);
    }
  } },
  h("label", { for: "mount-plugin" }, "Plugin"), select,
  h("label", { for: "mount-path" }, "Path *"), path,
  fieldsBox,
  h("span"), h("div", {}, h("button", { class: "primary", id: "mount-submit" }, "Mount")));
  showFields();

  main.replaceChildren(h("h1", {}, "Mounts"),
    h("table", { class: "listing", id: "mounts" },
      h("thead", {}, h("tr", {}, h("th", {}, "Path"), h("th", {}, "Plugin"), h("th", {}, "Status"), h("th", {}, ""))),
      h("tbody", {}, ...rows)),
    h("h2", {}, "Mount a plugin"), form);
}

export async function serverView(main) {
  const [health, version, caps] = await Promise.all([
    api.json("GET", "health"), api.json("GET", "version"), api.json("GET", "capabilities")]);
  const counts = health.mounts || {};
  const item = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  main.replaceChildren(h("h1", {}, "Server"),
    h("dl", { class: "info", id: "server-info" },
      ...item("Status", health.status),
      ...item("Version", version.version),
      ...item("Git commit", version.gitCommit),
      ...item("Built", version.buildTime),
      ...item("Mounts", `${counts.mounted ?? "?"} mounted, ${counts.pending ?? 0} pending, ${counts.failed ?? 0} failed`),
      ...item("Features", (caps.features || []).join(", ")),
      ...item("Signed in", api.token() ? "with a token (this browser session)" : "without a token")),
    h("p", {}, h("a", { href: "/docs" }, "API reference"), " · ",
      h("a", { href: "/api/v1/openapi.json" }, "OpenAPI document")),
    ...(api.token() ? [h("button", { id: "forget-token", onclick: async () => { api.forgetToken(); status("Token forgotten"); await serverView(main); } }, "Forget the token")] : []));
}
