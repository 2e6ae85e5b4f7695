// The dashboard: books and pitches with their states, work in flight and failed, each source's health; live.
import { html, useCallback, useEffect, useState } from "./vendor/htm-preact.js";
import { api, paths } from "./api.js";
import { useLiveRefresh } from "./live.js";
import { follow, pages } from "./router.js";
import { aiShare } from "./sections.js";

function NewBook({ user, created }) {
  const [title, setTitle] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api(paths.books(user), { method: "POST", body: { title } });
      setTitle("");
      setError(null);
      created();
    } catch (problem) {
      setError(problem.message);
    }
  };
  return html`<form class="inline" onSubmit=${submit} aria-label="New book">
    <label for="new-book">New book</label>
    <input id="new-book" required maxlength="300" value=${title} onInput=${(e) => setTitle(e.target.value)} aria-describedby=${error ? "new-book-error" : undefined} />
    <button type="submit">Create</button>
    ${error && html`<p id="new-book-error" class="error" role="alert">${error}</p>`}
  </form>`;
}

function Item({ item }) {
  return html`<li>
    <span class=${`badge ${item.state}`}>${item.state}</span>
    <span class="what">${item.chapter ? `${item.book_id} · chapter ${item.chapter}` : item.blob_id}</span>
    <span class="by">${item.processor}</span>
    ${item.reason && html`<p class="reason">${item.reason}</p>`}
  </li>`;
}

export function Dashboard({ user, live }) {
  const [state, setState] = useState(null);
  const [pitches, setPitches] = useState({ blobs: [], sources: {}, errors: [] });
  const [error, setError] = useState(null);
  const refresh = useCallback(async () => {
    try {
      const [now, listed] = await Promise.all([api(paths.state(user)), api(paths.blobs(user, "?type=pitch-input&limit=100"))]);
      setState(now);
      setPitches(listed);
      setError(null);
    } catch (problem) {
      setError(problem.message);
    }
  }, [user]);
  useEffect(() => { refresh(); }, [refresh]);
  useLiveRefresh(live, refresh);
  if (!state) return html`<main><h1>Dashboard</h1>${error ? html`<p class="error" role="alert">${error}</p>` : html`<p>Loading…</p>`}</main>`;
  return html`<main>
    <h1>Dashboard</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <p class="totals">${state.total_blobs} blobs${Object.entries(state.blobs_by_processor).map(([p, n]) => html` · <span>${p}: ${n}</span>`)}</p>
    <section aria-labelledby="books-heading">
      <h2 id="books-heading">Books</h2>
      <${NewBook} user=${user} created=${refresh} />
      ${state.books.length === 0 ? html`<p>No books yet.</p>` : html`<ul class="cards">
        ${state.books.map((book) => html`<li class="card" key=${book.book_id}>
          <h3><a href=${pages.book(book.book_id)} onClick=${follow(pages.book(book.book_id))}>${book.title}</a></h3>
          <p>${book.chapter_count} chapter${book.chapter_count === 1 ? "" : "s"}${book.compiled_version ? ` · compiled v${book.compiled_version}` : ""}</p>
          ${aiShare(book.words, book.ai_words) && html`<p class="share" data-ai-share=${book.ai_words}>${aiShare(book.words, book.ai_words)}</p>`}
          ${book.compile_failure && html`<p class="reason">Compile failed: ${book.compile_failure.reason}</p>`}
        </li>`)}
      </ul>`}
    </section>
    <section aria-labelledby="pitches-heading">
      <h2 id="pitches-heading">Pitches</h2>
      <p><a href=${pages.pitch("new")} onClick=${follow(pages.pitch("new"))}>New pitch</a></p>
      ${pitches.blobs.length === 0 ? html`<p>No pitch notes yet.</p>` : html`<ul class="cards">
        ${pitches.blobs.map((blob) => html`<li class="card" key=${blob.id}>
          <h3><a href=${pages.pitch(blob.id)} onClick=${follow(pages.pitch(blob.id))}>${blob.data.title}</a></h3>
          <p>${blob.data.logline}</p>
          <p>${blob.derived.length === 0 ? html`<span class="badge pending">pending</span>` : blob.derived.map((d) => html`<span class=${`badge ${d.status}`}>${d.processor}: ${d.status}</span> `)}</p>
        </li>`)}
      </ul>`}
    </section>
    <section aria-labelledby="sources-heading">
      <h2 id="sources-heading">Sources</h2>
      <ul class="items">
        ${Object.entries(pitches.sources).map(([name, source]) => html`<li key=${name}>
          <span class=${`badge ${source.status}`}>${source.status}</span> <span class="what">${name}</span> <span class="by">${Math.round(source.ms)} ms</span>
        </li>`)}
        ${pitches.errors.map((e) => html`<li><span class=${`badge ${e.status}`}>${e.status}</span> <span class="what">${e.source}</span><p class="reason">${e.detail}</p></li>`)}
      </ul>
    </section>
    <section aria-labelledby="flight-heading">
      <h2 id="flight-heading">In flight</h2>
      ${state.in_flight.length === 0 ? html`<p>Nothing waiting.</p>` : html`<ul class="items">${state.in_flight.map((i) => html`<${Item} key=${i.blob_id + i.processor} item=${i} />`)}</ul>`}
    </section>
    <section aria-labelledby="failed-heading">
      <h2 id="failed-heading">Failed</h2>
      ${state.failed.length === 0 ? html`<p>Nothing failed.</p>` : html`<ul class="items">${state.failed.map((i) => html`<${Item} key=${i.blob_id + i.processor} item=${i} />`)}</ul>`}
    </section>
  </main>`;
}
