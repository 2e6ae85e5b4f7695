// The Book Writer: chapters on the left; a chapter's draft beside what every processor makes of it,
// the expansion growing as it streams; compile, versions and downloads.
import { html, useCallback, useEffect, useRef, useState } from "./vendor/htm-preact.js";
import { EXPORTS, api, download, paths, useExportFormats } from "./api.js";
import { useLiveRefresh } from "./live.js";
import { StoryBible } from "./codex.js";
import { OfflineNotice, Sections, aiShare } from "./sections.js";

const SAVE_AFTER_MS = 800;
const SHOWN = { ok: "current", pending: "pending", stale: "stale", missing: "missing", unavailable: "unavailable", failed: "failed", retired: "retired" };

/** Partial text of derivations in flight, from `blob.progress` messages, newest attempt only. */
function joinProgress(runs, message) {
  const key = `${message.parent_id}/${message.processor}`;
  const run = runs[key];
  if (run && (message.derived_id !== run.derived_id ? message.parent_version < run.parent_version : message.attempt < run.attempt)) return runs;
  const fresh = !run || run.derived_id !== message.derived_id || run.attempt !== message.attempt;
  const texts = fresh ? {} : { ...run.texts };
  texts[message.section] = (message.restart ? "" : texts[message.section] || "") + message.delta;
  const done = fresh ? new Set() : new Set(run.done);
  if (message.done) done.add(message.section);
  return { ...runs, [key]: { derived_id: message.derived_id, attempt: message.attempt, parent_version: message.parent_version, sections: message.sections, texts, done } };
}

function spelled(run) {
  return Object.keys(run.texts).map(Number).sort((a, b) => a - b).map((i) => run.texts[i].trim()).join("\n\n");
}

function downloadBook(user, bookId, fmt) {
  return download(paths.bookExport(user, bookId, fmt), `${bookId}.${fmt}`);
}

function Editor({ chapter, saved }) {
  const draft = chapter.draft;
  const [text, setText] = useState(draft.data.content);
  const [state, setState] = useState("saved");
  const [conflict, setConflict] = useState(null);
  const version = useRef(draft.version);
  const timer = useRef(null);
  useEffect(() => {
    if (state === "saved") { setText(draft.data.content); version.current = draft.version; }
  }, [draft.id, draft.version]);
  const save = async (content, against) => {
    setState("saving");
    try {
      const blob = await api(paths.blob(draft.id), { method: "PUT", body: { data: { ...draft.data, content }, version: against } });
      version.current = blob.version;
      setState("saved");
      setConflict(null);
      saved();
    } catch (problem) {
      if (problem.status === 412) {
        const theirs = await api(paths.blob(draft.id));
        setConflict({ theirs, mine: content });
        setState("conflict");
      } else setState(`not saved: ${problem.message}`);
    }
  };
  const typed = (event) => {
    const content = event.target.value;
    setText(content);
    setState("editing");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => save(content, version.current), SAVE_AFTER_MS);
  };
  return html`<section class="pane" aria-labelledby="draft-heading">
    <h2 id="draft-heading">Draft</h2>
    <label for="draft" class="sr-only">Chapter ${chapter.chapter} draft</label>
    <textarea id="draft" value=${text} onInput=${typed} rows="18" disabled=${state === "conflict"}></textarea>
    <p class="saving" role="status" data-save=${state}>${state === "saved" ? "Saved" : state === "saving" ? "Saving…" : state === "editing" ? "Editing…" : state === "conflict" ? "Changed on another device" : state}</p>
    ${conflict && html`<div class="conflict" role="alert">
      <p>This chapter was changed on another device (now version ${conflict.theirs.version}). Which text stays?</p>
      <button type="button" onClick=${() => save(conflict.mine, conflict.theirs.version)}>Keep mine</button>
      <button type="button" class="quiet" onClick=${() => { setConflict(null); setState("saved"); setText(conflict.theirs.data.content); version.current = conflict.theirs.version; saved(); }}>Take theirs</button>
    </div>`}
  </section>`;
}

function Outputs({ chapter, runs, retry, changed, say }) {
  const entries = Object.entries(chapter.derived || {});
  return html`<section class="pane" aria-labelledby="outputs-heading">
    <h2 id="outputs-heading">What the processors made</h2>
    ${entries.length === 0 && html`<p>Nothing consumes this chapter.</p>`}
    ${entries.map(([processor, piece]) => {
      const run = runs[`${chapter.draft.id}/${processor}`];
      const streaming = run && piece.status !== "ok" && run.parent_version === chapter.draft.version;
      const data = piece.data || {};
      const text = streaming ? spelled(run) : data.expanded || data.summary || data.text || piece.preview || "";
      const status = streaming ? "streaming" : piece.status;
      return html`<article class="output" key=${processor} data-processor=${processor} aria-busy=${streaming ? "true" : "false"}>
        <h3>${processor} <span class=${`badge ${status === "streaming" ? "processing" : status}`} data-status=${status}>${streaming ? `streaming ${run.done.size}/${run.sections}` : SHOWN[status] || status}</span></h3>
        ${piece.reason && html`<p class="reason">${piece.reason}</p>`}
        ${(status === "failed" || status === "missing") && html`<button type="button" class="quiet" onClick=${retry}>Try again</button>`}
        ${data.metrics && !streaming && html`<p class="metrics">Tone: ${data.metrics.tone} · readability ${data.metrics.readability_score} · complexity ${data.metrics.complexity}</p>`}
        ${!streaming && (data.sections || []).some((s) => s.model === "offline") && html`<${OfflineNotice} />`}
        <div class="text" aria-live=${streaming ? "polite" : "off"}>${data.sections && (!streaming || run.derived_id === piece.id)
          ? html`<${Sections} piece=${piece} live=${streaming ? run : null} changed=${changed} say=${say} />`
          : text.split("\n\n").map((p) => html`<p>${p}</p>`)}</div>
      </article>`;
    })}
  </section>`;
}

export function Writer({ user, bookId, live }) {
  const [view, setView] = useState(null);
  const [chosen, setChosen] = useState(null);
  const [runs, setRuns] = useState({});
  const [versions, setVersions] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const refresh = useCallback(async () => {
    try {
      const [found, listed] = await Promise.all([
        api(paths.book(user, bookId), { headers: { "Cache-Control": "no-cache" } }),
        api(paths.bookVersions(user, bookId)).catch(() => ({ versions: [] })),
      ]);
      setView(found);
      setVersions(listed.versions);
      setError(null);
    } catch (problem) {
      setError(problem.message);
    }
  }, [user, bookId]);
  useEffect(() => { refresh(); }, [refresh]);
  useLiveRefresh(live, refresh, {
    delay: 150,
    onMessage: (message) => message.type === "blob.progress" && setRuns((runs) => joinProgress(runs, message)),
  });
  const formats = useExportFormats(EXPORTS.book);
  if (!view) return html`<main><h1>Book</h1>${error ? html`<p class="error" role="alert">${error}</p>` : html`<p>Loading…</p>`}</main>`;
  const chapters = view.chapters;
  const current = chapters.find((c) => c.chapter === chosen) || chapters[0];
  const addChapter = async (event) => {
    event.preventDefault();
    const title = new FormData(event.target).get("title");
    const next = chapters.reduce((n, c) => Math.max(n, c.chapter), 0) + 1;
    await api(paths.newBlob(), { method: "POST", body: { schema_id: "text-input-v1", data: { content: `Chapter ${next} begins here.`, metadata: { book_id: bookId, chapter: next, title } } } });
    event.target.reset();
    setChosen(next);
    refresh();
  };
  const retitle = async (chapter) => {
    const title = prompt("Chapter title", chapter.title);
    if (!title) return;
    const draft = chapter.draft;
    await api(paths.blob(draft.id), { method: "PUT", body: { data: { ...draft.data, metadata: { ...draft.data.metadata, title } }, version: draft.version } });
    refresh();
  };
  const remove = async (chapter) => {
    if (!confirm(`Delete chapter ${chapter.chapter}, “${chapter.title}”, and everything made from it?`)) return;
    await api(paths.blob(chapter.draft.id), { method: "DELETE" });
    setChosen(null);
    refresh();
  };
  const compile = async () => {
    try {
      const ai = document.getElementById("compile-ai")?.value || "include";
      await api(paths.bookCompile(user, bookId), { method: "POST", body: ai === "include" ? {} : { ai } });
      setNotice("Compiling… the new version appears below when it is ready.");
    } catch (problem) { setNotice(problem.message); }
  };
  const retry = async () => {
    const draft = current.draft;
    await api(paths.blob(draft.id), { method: "PUT", body: { data: draft.data, version: draft.version } });
    refresh();
  };
  const share = aiShare(view.book.words, view.book.ai_words);
  return html`<main class="writer">
    <h1>${view.book.title}</h1>
    ${share && html`<p class="share">${share}</p>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${notice && html`<p class="notice-line" role="status">${notice}</p>`}
    <div class="columns">
      <nav aria-label="Chapters" class="chapters">
        <h2>Chapters</h2>
        <ol>
          ${chapters.map((c) => html`<li key=${c.chapter} class=${c === current ? "current" : ""}>
            <button type="button" class="link" aria-current=${c === current ? "true" : undefined} onClick=${() => setChosen(c.chapter)}>${c.chapter}. ${c.title}</button>
            <span class=${`badge ${c.status}`}>${c.status}</span>
            <button type="button" class="quiet small" aria-label=${`Rename chapter ${c.chapter}`} onClick=${() => retitle(c)}>Rename</button>
            <button type="button" class="quiet small" aria-label=${`Delete chapter ${c.chapter}`} onClick=${() => remove(c)}>Delete</button>
          </li>`)}
        </ol>
        <form onSubmit=${addChapter} class="inline">
          <label for="chapter-title">New chapter</label>
          <input id="chapter-title" name="title" required maxlength="200" />
          <button type="submit">Add</button>
        </form>
        <${StoryBible} bookId=${bookId} entries=${view.codex || []} changed=${refresh} />
      </nav>
      ${current ? html`<div class="split">
        <${Editor} key=${current.draft.id} chapter=${current} saved=${refresh} />
        <${Outputs} chapter=${current} runs=${runs} retry=${retry} changed=${refresh} say=${setNotice} />
      </div>` : html`<p>No chapters yet: add one.</p>`}
    </div>
    <section aria-labelledby="compile-heading">
      <h2 id="compile-heading">Compile and download</h2>
      <label for="compile-ai">Words the AI wrote</label>
      <select id="compile-ai"><option value="include">as they are</option><option value="mark">marked [AI]…[/AI]</option><option value="omit">left out</option></select>
      <button type="button" onClick=${compile}>Compile the book</button>
      ${versions.length > 0 && html`<ol class="versions">${versions.map((v) => html`<li key=${v.version}>Version ${v.version}: ${v.word_count.toLocaleString()} words, ${v.chapter_count} chapters (${v.expanded.length} expanded)</li>`)}</ol>
      <p class="downloads">${formats.map(([fmt, label]) => html`<button type="button" class="quiet" onClick=${() => downloadBook(user, bookId, fmt).catch((p) => setNotice(p.message))}>Download ${label}</button> `)}</p>`}
    </section>
  </main>`;
}
