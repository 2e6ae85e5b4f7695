// The studio's one router: addressable pages, moved between without reloading.
import { useEffect, useState } from "./vendor/htm-preact.js";

/** Move to `path` inside the studio without reloading. */
export function go(path) {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** An `onClick` for a link to `path`: the studio moves there itself (a new tab still works). */
export function follow(path) {
  return (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button === 1) return;
    event.preventDefault();
    go(path);
  };
}

/** The current path, kept up to date as the studio moves. */
export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const moved = () => setPath(location.pathname);
    addEventListener("popstate", moved);
    return () => removeEventListener("popstate", moved);
  }, []);
  return path;
}

/** The studio's pages: the page a path shows, with its parameters decoded. */
export const pages = {
  book: (bookId) => `/books/${encodeURIComponent(bookId)}`,
  pitch: (blobId) => `/pitches/${encodeURIComponent(blobId)}`,
  home: () => "/",
};

export function route(path) {
  const book = /^\/books\/([^/]+)$/.exec(path);
  if (book) return { page: "book", bookId: decodeURIComponent(book[1]) };
  const pitch = /^\/pitches\/([^/]+)$/.exec(path);
  if (pitch) return { page: "pitch", blobId: decodeURIComponent(pitch[1]) };
  return { page: "dashboard" };
}
