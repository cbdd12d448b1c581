// A tiny element builder: h("a", {href: "#"}, "text", child) -> HTMLElement.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// The status line in the header: what just happened, or what went wrong.
export function status(message, isError = false) {
  const el = document.getElementById("status");
  el.textContent = message;
  el.title = message;
  el.classList.toggle("error", isError);
}

export function showError(err) {
  status(err && err.message ? err.message : String(err), true);
}
