// Modal questions in the page's own <dialog> (testable, unlike window.prompt).
import { h } from "./dom.js";

function open(title, fields, okText, danger) {
  const dialog = document.getElementById("dialog");
  const ok = h("button", { value: "ok", class: danger ? "danger" : "primary", id: "dialog-ok" }, okText);
  const cancel = h("button", { value: "cancel", type: "button", id: "dialog-cancel",
    onclick: () => dialog.close("cancel") }, "Cancel");
  const form = h("form", { method: "dialog" }, h("strong", {}, title), ...fields, h("menu", {}, cancel, ok));
  dialog.replaceChildren(form);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// A line of text, or null when cancelled.
export async function ask(title, value = "", { password = false, note = "" } = {}) {
  const input = h("input", { id: "dialog-input", type: password ? "password" : "text", value,
    autocomplete: "off", required: true });
  const fields = note ? [h("span", { class: "muted" }, note), input] : [input];
  const answered = open(title, fields, "OK", false);
  input.focus();
  input.select();
  return (await answered) ? input.value : null;
}

export function confirmAction(title, note, okText = "Delete") {
  return open(title, [h("span", {}, note)], okText, true);
}
