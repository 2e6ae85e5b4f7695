// The Pitch Creator: a form made from `pitch-input-v1` as the registry serves it, errors at their
// fields, the built pitch beside it, and its one-pager to download.
import { html, useCallback, useEffect, useState } from "./vendor/htm-preact.js";
import { EXPORTS, api, download, paths, useExportFormats } from "./api.js";
import { useLiveRefresh } from "./live.js";
import { Markdown } from "./markdown.js";
import { go, pages } from "./router.js";

const SCHEMA = "pitch-input-v1";
const LONG = 300; // a string allowed more characters than this gets a text area

function label(name) {
  if (name === "book_id") return "Book";
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** The form's value of one field as the schema wants it (lists one item a line). */
function parse(property, raw) {
  if (property.type === "integer") return raw === "" ? undefined : Number(raw);
  if (property.type === "array" && property.items?.type === "string") return raw.split("\n").map((l) => l.trim()).filter(Boolean);
  if (property.type === "array") return raw.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [name, role, ...about] = line.split("|").map((p) => p.trim());
    return Object.fromEntries(Object.entries({ name, role, description: about.join(" | ") }).filter(([, v]) => v));
  });
  return raw.trim() === "" ? undefined : raw;
}

function shown(property, value) {
  if (value === undefined || value === null) return "";
  if (property.type === "array" && property.items?.type === "string") return value.join("\n");
  if (property.type === "array") return value.map((c) => [c.name, c.role, c.description].filter(Boolean).join(" | ")).join("\n");
  return String(value);
}

function Field({ name, property, required, value, error, change, books }) {
  const id = `field-${name}`;
  const hint = property.type === "array" ? (property.items?.type === "string" ? "one a line" : "one a line: name | role | description") : "";
  const common = { id, name, required, "aria-invalid": error ? "true" : undefined, "aria-describedby": error ? `${id}-error` : hint ? `${id}-hint` : undefined, onInput: (e) => change(name, e.target.value) };
  const control = name === "book_id"
    ? html`<select ...${common} value=${value} onChange=${(e) => change(name, e.target.value)}><option value="">— no book —</option>${books.map((b) => html`<option value=${b.book_id}>${b.title}</option>`)}${value && !books.some((b) => b.book_id === value) ? html`<option value=${value}>${value}</option>` : null}</select>`
    : property.enum
    ? html`<select ...${common} value=${value}><option value="">—</option>${property.enum.map((o) => html`<option value=${o}>${o}</option>`)}</select>`
    : property.type === "integer"
      ? html`<input type="number" ...${common} value=${value} min=${property.minimum} />`
      : property.type === "array" || (property.maxLength || 0) > LONG
        ? html`<textarea ...${common} value=${value} rows=${property.type === "array" ? 3 : 5}></textarea>`
        : html`<input ...${common} value=${value} maxlength=${property.maxLength} />`;
  return html`<div class="field">
    <label for=${id}>${label(name)}${required ? " (required)" : ""}</label>
    ${control}
    ${hint && html`<p id=${`${id}-hint`} class="hint">${hint}</p>`}
    ${error && html`<p id=${`${id}-error`} class="error">${error}</p>`}
  </div>`;
}

export function Pitch({ user, blobId, live }) {
  const [schema, setSchema] = useState(null);
  const [books, setBooks] = useState([]);
  const [values, setValues] = useState({});
  const [blob, setBlob] = useState(null);
  const [errors, setErrors] = useState({});
  const [message, setMessage] = useState(null);
  const load = useCallback(async () => {
    const [document, found] = await Promise.all([
      api(paths.schema(SCHEMA)),
      blobId === "new" ? Promise.resolve(null) : api(paths.blob(blobId)),
    ]);
    setSchema(document.schema);
    setBlob(found);
    if (found) setValues(Object.fromEntries(Object.entries(document.schema.properties).map(([n, p]) => [n, shown(p, found.data[n])])));
  }, [blobId]);
  useEffect(() => { load().catch((p) => setMessage(p.message)); }, [load]);
  useEffect(() => { api(paths.books(user)).then((found) => setBooks(found.books)).catch(() => setBooks([])); }, [user]);
  useLiveRefresh(live, () => load().catch((p) => setMessage(p.message)), {
    matches: (m) => m.type === "blob.derived" && m.parent_id === blobId,
    delay: 0,
  });
  const formats = useExportFormats(EXPORTS.pitch);
  if (!schema) return html`<main><h1>Pitch</h1>${message ? html`<p class="error" role="alert">${message}</p>` : html`<p>Loading…</p>`}</main>`;
  const required = new Set(schema.required || []);
  const change = (name, raw) => setValues((v) => ({ ...v, [name]: raw }));
  const submit = async (event) => {
    event.preventDefault();
    const data = {};
    for (const [name, property] of Object.entries(schema.properties)) {
      const value = parse(property, values[name] ?? "");
      if (value !== undefined && !(Array.isArray(value) && value.length === 0)) data[name] = value;
    }
    try {
      const saved = blob
        ? await api(paths.blob(blob.id), { method: "PUT", body: { data, version: blob.version } })
        : await api(paths.newBlob(), { method: "POST", body: { schema_id: SCHEMA, data } });
      setErrors({});
      setMessage("Saved: the pitch is being built.");
      if (!blob) go(pages.pitch(saved.id));
      else load();
    } catch (problem) {
      const found = {};
      for (const e of problem.problem?.errors || []) {
        const field = e.pointer.replace(/^\/data/, "").split("/")[1] || "";
        found[field] = found[field] || e.detail;
      }
      setErrors(found);
      setMessage(Object.keys(found).length ? "Some fields need another look." : problem.message);
      const first = Object.keys(found)[0];
      if (first) document.getElementById(`field-${first}`)?.focus();
    }
  };
  const pitch = blob?.pitch;
  return html`<main class="pitch">
    <h1>${blob ? blob.data.title : "New pitch"}</h1>
    <div class="split">
      <form onSubmit=${submit} aria-label="Pitch notes" novalidate>
        ${Object.entries(schema.properties).map(([name, property]) => html`<${Field} key=${name} name=${name} property=${property}
          required=${required.has(name)} value=${values[name] ?? ""} error=${errors[name]} change=${change} books=${books} />`)}
        <button type="submit">${blob ? "Save and rebuild" : "Build the pitch"}</button>
        ${message && html`<p role="status">${message}</p>`}
      </form>
      <section class="pane" aria-labelledby="built-heading">
        <h2 id="built-heading">The pitch</h2>
        ${!pitch ? html`<p>${blob ? "Being built…" : "Fill in the notes and build it."}</p>` : html`<article class="output built">
          ${pitch.stale && html`<p class="reason">The book now has ${pitch.stale.words.toLocaleString()} words (version ${pitch.stale.book_version}): save to rebuild.</p>`}
          ${pitch.sections.map((s) => html`<section><h3>${s.heading}</h3><${Markdown} text=${s.body} /></section>`)}
          <p class="downloads">${formats.map(([fmt, name]) => html`<button type="button" class="quiet" onClick=${() => download(paths.blobExport(blob.id, fmt), `pitch.${fmt}`).catch((p) => setMessage(p.message))}>Download ${name}</button> `)}</p>
        </article>`}
      </section>
    </div>
  </main>`;
}
