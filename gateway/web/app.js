// The studio's shell: sign-in, navigation between addressable pages, the live connection's status.
import { html, render, useEffect, useState } from "./vendor/htm-preact.js";
import { adoptTokenFromAddress, signIn, signOut, userId } from "./session.js";
import { Live } from "./live.js";
import { follow, pages, route, usePath } from "./router.js";
import { Dashboard } from "./dashboard.js";
import { Writer } from "./writer.js";
import { Pitch } from "./pitch.js";

adoptTokenFromAddress();
const live = new Live();

function SignIn() {
  const [value, setValue] = useState("");
  const submit = (event) => {
    event.preventDefault();
    signIn(value);
    location.reload();
  };
  return html`<main class="signin">
    <h1>ReYNa Studio</h1>
    <p>Sign in with the token your identity provider gave you (on the one-machine stack, follow the link <code>make up</code> printed).</p>
    <form onSubmit=${submit}>
      <label for="token">Bearer token</label>
      <input id="token" type="password" autocomplete="off" required value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button type="submit">Sign in</button>
    </form>
  </main>`;
}

function Status({ onSignIn }) {
  const [status, setStatus] = useState(live.status);
  useEffect(() => live.onStatus(setStatus), []);
  const kind = status === "live" ? "ok" : status === "connecting" ? "wait" : "bad";
  const text =
    status === "live" ? "Live" : status === "connecting" ? "Connecting…" : status === "expired" ? "Session expired" : `Connection lost (${status})`;
  return html`<p class=${`status ${kind}`} role="status" aria-live="polite" data-status=${status}>
    <span aria-hidden="true">●</span> ${text}
    ${status === "expired" && html` <button type="button" class="quiet" onClick=${onSignIn}>Sign in again</button>`}
  </p>`;
}

function Shell() {
  const path = usePath();
  const user = userId();
  const leave = () => {
    signOut();
    location.assign("/");
  };
  return html`<div class="shell">
    <header>
      <a class="brand" href=${pages.home()} onClick=${follow(pages.home())}>ReYNa Studio</a>
      <${Status} onSignIn=${leave} />
      <span class="who">${user}</span>
      <button type="button" class="quiet" onClick=${leave}>Sign out</button>
    </header>
    ${page(path, user)}
  </div>`;
}

function page(path, user) {
  const shown = route(path);
  if (shown.page === "book") return html`<${Writer} key=${shown.bookId} user=${user} bookId=${shown.bookId} live=${live} />`;
  if (shown.page === "pitch") return html`<${Pitch} key=${shown.blobId} user=${user} blobId=${shown.blobId} live=${live} />`;
  return html`<${Dashboard} user=${user} live=${live} />`;
}

const root = document.getElementById("app");
root.replaceChildren(); // the page's "Loading the studio…" goes once the studio shows
if (userId()) {
  live.start();
  render(html`<${Shell} />`, root);
} else {
  render(html`<${SignIn} />`, root);
}
