// Sizes and times for people (pfs.web.sizes.human_size is the Python twin).
const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

export function humanSize(size) {
  if (size < 1024) return `${size} B`;
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1).replace(/\.0$/, "")} ${UNITS[unit]}`;
}

// The API's RFC 3339 times carry nanoseconds; Date takes milliseconds.
export function parseTime(text) {
  const ms = Date.parse(String(text || "").replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? 0 : ms;
}

export function when(text) {
  const ms = parseTime(text);
  return ms ? new Date(ms).toLocaleString() : "";
}

// PFS paths: always absolute, no trailing slash but for the root.
export function join(dir, name) {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

export function parent(path) {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

export function basename(path) {
  return path.slice(path.lastIndexOf("/") + 1) || "/";
}
