// The PFS API (/api/v1) with the server's auth: a 401 asks for a token, kept in sessionStorage
// for this browser session, and the request is made again with it.
import { ask } from "./dialog.js";

export const API = "/api/v1";
const TOKEN_KEY = "pfs.token";

export class ApiError extends Error {
  constructor(status, message, kind = "") {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function url(endpoint, params = {}) {
  const query = new URLSearchParams(params).toString();
  return `${API}/${endpoint}${query ? `?${query}` : ""}`;
}

// Several requests may get a 401 at once: they share one prompt.
let asking = null;

async function askToken(message) {
  asking ??= ask("This server needs a token", "", { password: true, note: `The server says: ${message}` }).finally(() => { asking = null; });
  const typed = await asking;
  if (!typed) return false;
  sessionStorage.setItem(TOKEN_KEY, typed.trim());
  return true;
}

function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const t = token();
  if (t) headers.set("Authorization", `Bearer ${t}`);
  return headers;
}

function errorOf(status, text, kind) {
  let message = text.trim();
  try {
    message = JSON.parse(text).error || message;
  } catch {
    // not JSON: the plain text is the message
  }
  return new ApiError(status, message || `HTTP ${status}`, kind || "");
}

// One API call; resolves to the Response (2xx), rejects with an ApiError.
export async function request(method, endpoint, { params, body, headers, signal } = {}) {
  for (;;) {
    const res = await fetch(url(endpoint, params), { method, body, signal, headers: authHeaders(headers) });
    if (res.ok) return res;
    const text = await res.text();
    const error = errorOf(res.status, text, res.headers.get("X-PFS-Error-Kind"));
    if (res.status === 401 && (await askToken(error.message))) continue;
    throw error;
  }
}

export async function json(method, endpoint, options = {}) {
  if (options.json !== undefined) {
    options = { ...options, body: JSON.stringify(options.json),
      headers: { "Content-Type": "application/json", ...options.headers } };
  }
  return (await request(method, endpoint, options)).json();
}

export async function list(path) {
  return (await json("GET", "directories", { params: { path } })).files || [];
}

// A browser-loadable URL of a file: the API URL itself when no token is needed (so <video> and
// <img> get range requests), else an object URL of the whole file fetched with the token.
export async function fileSource(path) {
  if (!token()) return url("files", { path });
  const blob = await (await request("GET", "files", { params: { path } })).blob();
  return URL.createObjectURL(blob);
}

// PUT one file with upload progress (fetch has no upload progress: XHR does).
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url("files", { path }));
    const t = token();
    if (t) xhr.setRequestHeader("Authorization", `Bearer ${t}`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, `upload of ${path} failed: network error`));
    xhr.onload = async () => {
      if (xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
        return;
      }
      const error = errorOf(xhr.status, xhr.responseText, xhr.getResponseHeader("X-PFS-Error-Kind"));
      if (xhr.status === 401 && (await askToken(error.message))) {
        upload(path, file, onProgress).then(resolve, reject);
      } else {
        reject(error);
      }
    };
    xhr.send(file);
  });
}
