// The user's live events over one WebSocket: resumed after a drop, retried with back-off, shown.
import { token } from "./session.js";

const MAX_DELAY = 15000;

export class Live {
  constructor() {
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.lastEvent = null;
    this.lastProgress = null;
    this.attempt = 0;
    this.status = "connecting";
    this.socket = null;
    this.timer = null;
  }

  /** `listener(message)` for every message; returns a function that stops listening. */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener) {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  setStatus(status) {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  start() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: token() || "" });
    if (this.lastEvent !== null) query.set("last_event_id", String(this.lastEvent));
    if (this.lastProgress !== null) query.set("last_progress_id", String(this.lastProgress));
    const socket = (this.socket = new WebSocket(`${scheme}://${location.host}/ws?${query}`));
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = () => this.retry();
  }

  receive(message) {
    if (message.type === "ready") {
      this.attempt = 0;
      if (this.lastEvent === null) this.lastEvent = message.id;
      if (this.lastProgress === null) this.lastProgress = message.progress_id;
      this.setStatus("live");
    }
    if (typeof message.id === "number" && message.type !== "ready") this.lastEvent = message.id;
    if (typeof message.progress_id === "number" && message.type === "blob.progress") this.lastProgress = message.progress_id;
    for (const listener of this.listeners) listener(message);
  }

  retry() {
    this.socket = null;
    const delay = Math.min(MAX_DELAY, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.setStatus(`offline: trying again in ${Math.ceil(delay / 1000)} s`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.setStatus("connecting");
      this.start();
    }, delay);
  }
}
