// Who is signed in: a bearer token kept in sessionStorage (never in a URL, but the socket's handshake).
const KEY = "studio.token";

/** Take a token handed over in the address (`/#token=…`) and forget it from the address. */
export function adoptTokenFromAddress() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The user id the token names (its `sub`), or null when there is no readable token. */
export function userId() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}
