// The user's live events over one WebSocket: resumed after a drop, retried with back-off, shown.
// The token travels in the handshake's subprotocols (`studio`, `bearer.<token>`), never in a URL.
import { useEffect } from "./vendor/htm-preact.js";
import { token, tokenExpired } from "./session.js";

const MAX_DELAY = 15000;
const PROTOCOL = "studio";
const TOKEN_EXPIRED = 4001; // the token expired with no fresh one sent: sign in again
const TOKEN_REFUSED = 4003; // a token sent over the socket was refused

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
    this.sentToken = null;
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
    const current = token();
    if (!current || tokenExpired()) return this.expire();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams();
    if (this.lastEvent !== null) query.set("last_event_id", String(this.lastEvent));
    if (this.lastProgress !== null) query.set("last_progress_id", String(this.lastProgress));
    const search = String(query);
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/ws${search ? `?${search}` : ""}`, [PROTOCOL, `bearer.${current}`]);
    } catch {
      return this.expire(); // not a token at all (no subprotocol can carry it)
    }
    this.socket = socket;
    this.sentToken = current;
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => (event.code === TOKEN_EXPIRED || event.code === TOKEN_REFUSED ? this.expire() : this.retry());
  }

  receive(message) {
    if (message.type === "ready") {
      this.attempt = 0;
      if (this.lastEvent === null) this.lastEvent = message.id;
      if (this.lastProgress === null) this.lastProgress = message.progress_id;
      this.setStatus("live");
    }
    if (message.type === "token.expiring") this.renew();
    if (typeof message.id === "number" && message.type !== "ready") this.lastEvent = message.id;
    if (typeof message.progress_id === "number" && message.type === "blob.progress") this.lastProgress = message.progress_id;
    for (const listener of this.listeners) listener(message);
  }

  /** The socket's token is about to expire: hand it the tab's token if that one is newer. */
  renew() {
    const current = token();
    if (!current || current === this.sentToken || tokenExpired() || this.socket?.readyState !== WebSocket.OPEN) return;
    this.sentToken = current;
    this.socket.send(JSON.stringify({ action: "authenticate", token: current }));
  }

  /** The session is over: say so and stop trying (a new sign-in starts again). */
  expire() {
    this.socket = null;
    clearTimeout(this.timer);
    this.setStatus("expired");
  }

  retry() {
    this.socket = null;
    if (tokenExpired()) return this.expire();
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

/** The one way a page follows live events: every message goes to `onMessage`; those `matches`
 * takes call `refresh` once things are quiet for `delay` ms, and so does the connection being
 * live again (it caught up after a reconnect). */
export function useLiveRefresh(live, refresh, { matches = (m) => m.type !== "blob.progress", delay = 300, onMessage } = {}) {
  useEffect(() => {
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, delay);
    };
    const stop = live.subscribe((message) => {
      onMessage?.(message);
      if (matches(message)) later();
    });
    const status = live.onStatus((s) => s === "live" && later());
    return () => { stop(); status(); clearTimeout(timer); };
  }, [live, refresh]);
}
