// The little Markdown a built pitch uses, shown as what it means: `- ` items as a list, `**bold**`
// as bold, `\*` as a star. Made of elements, never of HTML from the text: the text stays data.
import { html } from "./vendor/htm-preact.js";

/** A line's text with **bold** runs, and backslash escapes taken literally. */
export function inline(text) {
  const out = [];
  let plain = "";
  let bold = null; // the bold run being read, or null
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) { (bold === null ? (plain += text[++i]) : (bold += text[++i])); continue; }
    if (c === "*" && text[i + 1] === "*") {
      i++;
      if (bold === null) { out.push(plain); plain = ""; bold = ""; }
      else { out.push(html`<strong>${bold}</strong>`); bold = null; }
      continue;
    }
    if (bold === null) plain += c; else bold += c;
  }
  out.push(bold === null ? plain : `**${bold}`); // an unclosed run is text as typed
  return out.filter((p) => p !== "");
}

/** Paragraphs and `- ` lists. */
export function Markdown({ text }) {
  const blocks = [];
  let items = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("- ")) {
      items ??= [];
      items.push(html`<li>${inline(line.slice(2))}</li>`);
      continue;
    }
    if (items) { blocks.push(html`<ul>${items}</ul>`); items = null; }
    if (line.trim()) blocks.push(html`<p>${inline(line)}</p>`);
  }
  if (items) blocks.push(html`<ul>${items}</ul>`);
  return blocks;
}
