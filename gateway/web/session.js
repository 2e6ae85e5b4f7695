// Who is signed in: a bearer token kept in sessionStorage (never in a URL: the socket's handshake
// carries it as a subprotocol).
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

/** The token's claims (unverified: the gateway checks them), or null when there is no readable token. */
function claims() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

/** The user id the token names (its `sub`), or null when there is no readable token. */
export function userId() {
  const found = claims();
  return found && typeof found.sub === "string" ? found.sub : null;
}

/** Has the token's `exp` passed (by this device's clock)? */
export function tokenExpired() {
  const found = claims();
  return !!found && typeof found.exp === "number" && found.exp * 1000 <= Date.now();
}
