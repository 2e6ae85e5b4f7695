// The gateway's REST API with the session's token; a problem answer becomes an ApiError.
// Every API path the studio calls is built here, from encoded segments.
import { useEffect, useState } from "./vendor/htm-preact.js";
import { token } from "./session.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// The newest write's consistency token: reads send it back, so that whichever gateway answers
// shows that write (read-your-writes behind a load balancer of several gateways).
let consistency = "";

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${token()}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...(method === "GET" && consistency ? { "Studio-Consistency": consistency } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const written = response.headers.get("Studio-Consistency");
  if (written && Number(written) > Number(consistency || 0)) consistency = written;
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const segment = encodeURIComponent;

export const paths = {
  books: (user) => `/api/v1/users/${segment(user)}/books`,
  book: (user, bookId) => `${paths.books(user)}/${segment(bookId)}`,
  bookVersions: (user, bookId) => `${paths.book(user, bookId)}/versions`,
  bookCompile: (user, bookId) => `${paths.book(user, bookId)}/compile`,
  bookExport: (user, bookId, format) => `${paths.book(user, bookId)}/export?format=${segment(format)}`,
  state: (user) => `/api/v1/users/${segment(user)}/state`,
  blobs: (user, query = "") => `/api/v1/users/${segment(user)}/blobs${query}`,
  newBlob: () => "/api/v1/blobs",
  blob: (blobId) => `/api/v1/blobs/${segment(blobId)}`,
  blobExport: (blobId, format) => `${paths.blob(blobId)}/export?format=${segment(format)}`,
  section: (blobId, sectionId, action) => `${paths.blob(blobId)}/sections/${segment(sectionId)}/${segment(action)}`,
  schema: (schemaId) => `/api/v1/schemas/${segment(schemaId)}`,
  document: () => "/api/v1/openapi.json",
};

// The export routes, as the API document names them; their formats are read from it.
export const EXPORTS = { book: "/api/v1/users/{uid}/books/{book_id}/export", pitch: "/api/v1/blobs/{blob_id}/export" };
const LABELS = { epub: "EPUB", docx: "DOCX", pdf: "PDF", md: "Markdown", txt: "Plain text" };
let described = null;

/** The formats an export route offers, as the API's own document lists them: [[format, label]]. */
export async function exportFormats(route) {
  described ??= api(paths.document()).catch(() => ({}));
  const format = (await described).paths?.[route]?.get?.parameters?.find((p) => p.name === "format");
  return (format?.schema?.enum || []).map((name) => [name, LABELS[name] || name.toUpperCase()]);
}

/** `exportFormats(route)` for a page: [] until known. */
export function useExportFormats(route) {
  const [formats, setFormats] = useState([]);
  useEffect(() => { exportFormats(route).then(setFormats); }, [route]);
  return formats;
}

/** Fetch a file with the token and hand it to the browser as a download (a link could not carry the token). */
export async function download(path, fallback) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || fallback;
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await response.blob()), download: name });
  link.click();
  URL.revokeObjectURL(link.href);
}
