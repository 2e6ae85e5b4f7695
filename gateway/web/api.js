// The gateway's REST API with the session's token; a problem answer becomes an ApiError.
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

export const paths = {
  books: (user) => `/api/v1/users/${encodeURIComponent(user)}/books`,
  state: (user) => `/api/v1/users/${encodeURIComponent(user)}/state`,
  blobs: (user, query = "") => `/api/v1/users/${encodeURIComponent(user)}/blobs${query}`,
};

/** Fetch a file with the token and hand it to the browser as a download (a link could not carry the token). */
export async function download(path, fallback) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || fallback;
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await response.blob()), download: name });
  link.click();
  URL.revokeObjectURL(link.href);
}
