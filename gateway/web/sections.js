// An expansion section by section: what each section is, which model wrote it, which story-bible
// entries its prompt carried and why (its receipt), and the writer's say: keep, discard, regenerate.
// On a focused section, K keeps it, D discards it, R writes it again (with the instruction typed).
import { html, useState } from "./vendor/htm-preact.js";
import { api, paths } from "./api.js";

const OFFLINE = "offline";

/** "12% written by AI (120 of 1,000 words)", or nothing before any word was kept from the model. */
export function aiShare(words, aiWords) {
  if (!words || !aiWords) return "";
  return `${Math.round((100 * aiWords) / words)}% written by AI (${aiWords.toLocaleString()} of ${words.toLocaleString()} words)`;
}

export function receiptText(receipt) {
  return (receipt || []).map((used) => `${used.name}, ${used.why}`).join("; ");
}

export function OfflineNotice() {
  return html`<p class="notice" role="note">
    Written by the offline placeholder, not by an AI model. Connect one with <code>STUDIO_OPENAI_API_KEY</code>:
    any OpenAI-compatible endpoint, a hosted API or a local server such as Ollama or llama.cpp's
    (<code>STUDIO_OPENAI_BASE_URL</code>, <code>STUDIO_OPENAI_MODEL</code>).
  </p>`;
}

function Section({ expansionId, section, number, changed, say, told, writing }) {
  const [instruction, setInstruction] = useState("");
  const [busy, setBusy] = useState(null);
  const act = async (action) => {
    setBusy(action);
    try {
      const body = action === "regenerate" ? { instruction: instruction || undefined } : undefined;
      await api(paths.section(expansionId, section.id, action), { method: "POST", body });
      say(action === "keep" ? `Section ${number} kept in the draft.` : action === "discard" ? `Section ${number} discarded.` : `Section ${number} is being written again.`);
      changed();
    } catch (problem) {
      say(`Section ${number}: ${problem.message}`);
    } finally {
      setBusy(null);
    }
  };
  const keys = (event) => {
    if (event.target !== event.currentTarget || event.ctrlKey || event.metaKey || event.altKey) return;
    const action = { k: "keep", d: "discard", r: "regenerate" }[event.key.toLowerCase()];
    if (action) { event.preventDefault(); act(action); }
  };
  // While the expansion is made again, a section shows its new text as it comes (`writing` until
  // it is done); its status stays what the view says (`stale`, with why) until the new one lands.
  const status = writing ? "writing" : section.status || "ok";
  const text = told !== null && told !== undefined ? told : section.text;
  const receipt = receiptText(section.receipt);
  return html`<li class=${`section ${status}`} data-section=${section.id} data-status=${status} tabindex="0" onKeyDown=${keys}
      aria-label=${`Section ${number}, ${status}. K keeps it, D discards it, R writes it again.`}>
    ${text.split("\n\n").map((p) => html`<p>${p}</p>`)}
    <p class="meta">
      ${status !== "ok" && html`<span class=${`badge ${status}`}>${status}</span> `}
      ${section.model === OFFLINE ? "Offline placeholder" : section.model ? `Written by ${section.model}` : "Kept as written"}${section.instruction ? ` · asked: “${section.instruction}”` : ""}
    </p>
    ${receipt && html`<p class="receipt">Used: ${receipt}</p>`}
    ${section.stale_reason && html`<p class="reason">Stale: ${section.stale_reason}</p>`}
    <div class="actions">
      <button type="button" class="small" disabled=${busy !== null || status === "kept"} onClick=${() => act("keep")}>Keep</button>
      <button type="button" class="small quiet" disabled=${busy !== null || status === "discarded"} onClick=${() => act("discard")}>Discard</button>
      <label class="sr-only" for=${`instruction-${section.id}`}>Instruction for section ${number}</label>
      <input id=${`instruction-${section.id}`} class="instruction" placeholder="more dialogue, shorter…" maxlength="500" value=${instruction} onInput=${(e) => setInstruction(e.target.value)} />
      <button type="button" class="small quiet" disabled=${busy !== null} onClick=${() => act("regenerate")}>Regenerate</button>
    </div>
  </li>`;
}

/** The sections of an expansion, each with its receipt and actions. */
export function Sections({ piece, live, changed, say }) {
  const sections = piece.data?.sections || [];
  const told = (i) => (live && live.texts[i] !== undefined ? live.texts[i] : null);
  return html`<ol class="sections" aria-label="Sections of the expansion">
    ${sections.map((section, i) => html`<${Section} key=${section.id} expansionId=${piece.id} section=${section} number=${i + 1} changed=${changed} say=${say} told=${told(i)} writing=${live && told(i) !== null && !live.done.has(i)} />`)}
  </ol>`;
}
