// The story bible beside the writer: the entries the AI is given, added, edited and deleted here.
// An entry filed under this book applies to it alone; one for every book, to all the writer's books.
import { html, useState } from "./vendor/htm-preact.js";
import { api, paths } from "./api.js";

const KINDS = ["character", "place", "object", "lore", "other"];
const EMPTY = { name: "", kind: "character", aliases: "", description: "", always_include: false, scope: "book", from_chapter: "" };

function asForm(entry) {
  const d = entry.data;
  return {
    name: d.name, kind: d.kind, aliases: (d.aliases || []).join(", "), description: d.description || "",
    always_include: !!d.always_include, scope: d.book_id ? "book" : "series", from_chapter: d.from_chapter ? String(d.from_chapter) : "",
  };
}

function asData(form, bookId) {
  const data = { name: form.name.trim(), kind: form.kind };
  const aliases = form.aliases.split(",").map((a) => a.trim()).filter(Boolean);
  if (aliases.length) data.aliases = aliases;
  if (form.description.trim()) data.description = form.description.trim();
  if (form.always_include) data.always_include = true;
  if (form.scope === "book") data.book_id = bookId;
  if (form.from_chapter) data.from_chapter = Number(form.from_chapter);
  return data;
}

function EntryForm({ bookId, entry, done, cancel }) {
  const [form, setForm] = useState(entry ? asForm(entry) : EMPTY);
  const [error, setError] = useState(null);
  const id = entry ? entry.id : "new";
  const set = (field) => (event) => setForm({ ...form, [field]: event.target.type === "checkbox" ? event.target.checked : event.target.value });
  const submit = async (event) => {
    event.preventDefault();
    try {
      const data = asData(form, bookId);
      if (entry) await api(paths.blob(entry.id), { method: "PUT", body: { data, version: entry.version } });
      else await api(paths.newBlob(), { method: "POST", body: { schema_id: "codex-entry-v1", data } });
      setError(null);
      if (!entry) setForm(EMPTY);
      done(entry ? `“${data.name}” changed: the sections that used it are written again.` : `“${data.name}” added to the story bible.`);
    } catch (problem) {
      setError(problem.message);
    }
  };
  return html`<form class="entry-form" onSubmit=${submit} aria-label=${entry ? `Edit ${entry.data.name}` : "New story-bible entry"}>
    <label for=${`entry-name-${id}`}>Name</label>
    <input id=${`entry-name-${id}`} required maxlength="200" value=${form.name} onInput=${set("name")} />
    <label for=${`entry-kind-${id}`}>Kind</label>
    <select id=${`entry-kind-${id}`} value=${form.kind} onChange=${set("kind")}>${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select>
    <label for=${`entry-aliases-${id}`}>Also called (commas between)</label>
    <input id=${`entry-aliases-${id}`} value=${form.aliases} onInput=${set("aliases")} />
    <label for=${`entry-description-${id}`}>Description</label>
    <textarea id=${`entry-description-${id}`} rows="3" maxlength="5000" value=${form.description} onInput=${set("description")}></textarea>
    <label for=${`entry-scope-${id}`}>Applies to</label>
    <select id=${`entry-scope-${id}`} value=${form.scope} onChange=${set("scope")}><option value="book">this book</option><option value="series">every book</option></select>
    <label for=${`entry-from-${id}`}>From chapter (optional)</label>
    <input id=${`entry-from-${id}`} type="number" min="1" value=${form.from_chapter} onInput=${set("from_chapter")} />
    <label class="check"><input type="checkbox" checked=${form.always_include} onChange=${set("always_include")} /> Always give it to the AI</label>
    <p>
      <button type="submit">${entry ? "Save entry" : "Add entry"}</button>
      ${cancel && html` <button type="button" class="quiet" onClick=${cancel}>Cancel</button>`}
    </p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </form>`;
}

export function StoryBible({ bookId, entries, changed }) {
  const [editing, setEditing] = useState(null);
  const [said, setSaid] = useState(null);
  const done = (message) => { setEditing(null); setSaid(message); changed(); };
  const remove = async (entry) => {
    if (!confirm(`Delete “${entry.data.name}” from the story bible?`)) return;
    try {
      await api(paths.blob(entry.id), { method: "DELETE" });
      done(`“${entry.data.name}” deleted: the sections that used it are written again.`);
    } catch (problem) { setSaid(problem.message); }
  };
  return html`<section class="codex" aria-labelledby="codex-heading">
    <h2 id="codex-heading">Story bible</h2>
    <p class="hint">What the AI is told when a section names an entry (or always, if you say so).</p>
    ${said && html`<p role="status">${said}</p>`}
    <ul class="entries">
      ${entries.map((entry) => html`<li key=${entry.id} data-entry=${entry.data.name}>
        ${editing === entry.id
          ? html`<${EntryForm} bookId=${bookId} entry=${entry} done=${done} cancel=${() => setEditing(null)} />`
          : html`<p><strong>${entry.data.name}</strong> <span class="by">${entry.data.kind}${entry.data.book_id ? "" : " · every book"}${entry.data.always_include ? " · always" : ""}</span></p>
            ${entry.data.description && html`<p class="description">${entry.data.description}</p>`}
            <button type="button" class="small quiet" aria-label=${`Edit ${entry.data.name}`} onClick=${() => setEditing(entry.id)}>Edit</button>
            <button type="button" class="small quiet" aria-label=${`Delete ${entry.data.name}`} onClick=${() => remove(entry)}>Delete</button>`}
      </li>`)}
    </ul>
    <details>
      <summary>Add an entry</summary>
      <${EntryForm} bookId=${bookId} done=${done} />
    </details>
  </section>`;
}
