/**
 * Live connection: /ws with automatic fallback to REST polling (/api/live/poll).
 *
 * Subscriptions are kept here; after a reconnect (or a `resync`) each one is resubscribed
 * with `since` = the last cursor it saw, so no point is lost. Consumers must tolerate
 * duplicates (the views upsert by step).
 */

export type ConnState = "connecting" | "live" | "reconnecting" | "polling";

export interface Sub {
  kind: string;
  run: string;
  tag: string;
  cursor: number | null;
  onPoints: (msg: any) => void;
}

export interface LiveOptions {
  /** "auto" (default), "ws" (never poll) or "poll" (never open a socket). */
  transport?: "auto" | "ws" | "poll";
  pollInterval?: number;
}

function key(kind: string, run: string, tag: string): string {
  return `${kind}\u0000${run}\u0000${tag}`;
}

export class Live {
  state: ConnState = "connecting";
  /** Highest cursor seen anywhere (hello, points, heartbeats, polls, columnar fetches). */
  cursor = 0;
  private cursorKnown = false;
  private subs = new Map<string, Set<Sub>>();
  private ws: WebSocket | null = null;
  private failures = 0;
  private pollTimer: number | null = null;
  private reconnectTimer: number | null = null;
  watchdog: number | null = null;
  private lastMessage = 0;
  private heartbeat = 5;
  private stateListeners: Array<(s: ConnState) => void> = [];
  private categoryListeners: Array<(m: any) => void> = [];
  private cursorListeners: Array<(c: number) => void> = [];
  private pointsListeners: Array<(m: any) => void> = [];
  private readyWaiters: Array<() => void> = [];
  private polling = false;
  private pollInFlight = false;
  private opts: Required<LiveOptions>;
  messages = 0;

  constructor(opts: LiveOptions = {}) {
    this.opts = { transport: opts.transport ?? "auto", pollInterval: opts.pollInterval ?? 1000 };
  }

  start(): void {
    if (this.opts.transport === "poll") this.startPolling();
    else this.connect();
    this.watchdog = window.setInterval(() => this.checkWatchdog(), 1000);
  }

  onState(f: (s: ConnState) => void): void {
    this.stateListeners.push(f);
    f(this.state);
  }
  onCategory(f: (m: any) => void): void {
    this.categoryListeners.push(f);
  }
  /** Every `points` message, whichever subscription asked for it (live alerts watch them all). */
  onPoints(f: (m: any) => void): void {
    this.pointsListeners.push(f);
  }
  onCursor(f: (c: number) => void): () => void {
    this.cursorListeners.push(f);
    return () => {
      this.cursorListeners = this.cursorListeners.filter((x) => x !== f);
    };
  }

  /** Resolves once a cursor is known (hello or first poll), or after `timeoutMs`. */
  ready(timeoutMs = 3000): Promise<void> {
    if (this.cursorKnown) return Promise.resolve();
    return new Promise((res) => {
      const t = window.setTimeout(res, timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        res();
      });
    });
  }

  noteCursor(c: unknown): void {
    const n = Number(c);
    if (!Number.isFinite(n)) return;
    if (!this.cursorKnown) {
      this.cursorKnown = true;
      const w = this.readyWaiters;
      this.readyWaiters = [];
      w.forEach((f) => f());
    }
    if (n > this.cursor) {
      this.cursor = n;
      this.cursorListeners.forEach((f) => f(n));
    }
  }

  subscribe(kind: string, run: string, tag: string, since: number | null, onPoints: (msg: any) => void): () => void {
    const sub: Sub = { kind, run, tag, cursor: since, onPoints };
    const k = key(kind, run, tag);
    let set = this.subs.get(k);
    const first = !set;
    if (!set) this.subs.set(k, (set = new Set()));
    set.add(sub);
    if (first) this.sendSubscribe(kind, run, tag, since);
    else if (since !== null) this.sendSubscribe(kind, run, tag, this.minCursor(set));
    return () => {
      const s = this.subs.get(k);
      if (!s) return;
      s.delete(sub);
      if (s.size === 0) {
        this.subs.delete(k);
        this.send({ op: "unsubscribe", kind, run, tag });
      }
    };
  }

  private minCursor(set: Set<Sub>): number | null {
    let m: number | null = null;
    for (const s of set) if (s.cursor !== null && (m === null || s.cursor < m)) m = s.cursor;
    return m;
  }

  private sendSubscribe(kind: string, run: string, tag: string, since: number | null): void {
    const msg: any = { op: "subscribe", kind, run, tag };
    if (since !== null) msg.since = since;
    this.send(msg);
  }

  private send(msg: any): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private setState(s: ConnState): void {
    if (s === this.state) return;
    this.state = s;
    this.stateListeners.forEach((f) => f(s));
  }

  private wsUrl(): string {
    const u = new URL("ws", window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams(window.location.search);
    const token = params.get("token");
    if (token) u.searchParams.set("token", token);
    return u.toString();
  }

  private connect(): void {
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.wsUrl());
    } catch {
      this.onSocketClosed();
      return;
    }
    this.ws = ws;
    let opened = false;
    const openTimeout = window.setTimeout(() => {
      if (!opened) ws.close();
    }, 4000);
    ws.onopen = () => {
      opened = true;
      clearTimeout(openTimeout);
      this.failures = 0;
      this.lastMessage = Date.now();
      this.stopPolling();
      this.setState("live");
      this.send({ op: "options", batch: true }); // one frame per batching window
      for (const set of this.subs.values()) {
        const s = set.values().next().value as Sub;
        this.sendSubscribe(s.kind, s.run, s.tag, this.minCursor(set));
      }
    };
    ws.onmessage = (ev) => {
      this.lastMessage = Date.now();
      let msg: any;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = () => {
      clearTimeout(openTimeout);
      if (this.ws === ws) {
        this.ws = null;
        this.onSocketClosed();
      }
    };
    ws.onerror = () => {
      /* close follows */
    };
  }

  private onSocketClosed(): void {
    this.failures++;
    if (this.opts.transport === "auto" && this.failures >= 2) {
      this.startPolling();
    } else if (!this.polling) {
      this.setState("reconnecting");
    }
    const delay = Math.min(10000, 500 * Math.pow(2, Math.min(this.failures, 5)));
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  private checkWatchdog(): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      if (Date.now() - this.lastMessage > Math.max(3, this.heartbeat) * 3000) {
        this.ws.close();
      } else if (Date.now() - this.lastMessage > this.heartbeat * 1000) {
        this.send({ op: "ping" });
      }
    }
  }

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    this.setState("polling");
    const tick = async () => {
      if (!this.polling) return;
      await this.pollOnce();
      if (this.polling) this.pollTimer = window.setTimeout(tick, this.opts.pollInterval);
    };
    tick();
  }

  private stopPolling(): void {
    this.polling = false;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private async pollOnce(): Promise<void> {
    if (this.pollInFlight) return;
    this.pollInFlight = true;
    try {
      const subs: any[] = [];
      let since: number | null = null;
      for (const set of this.subs.values()) {
        const s = set.values().next().value as Sub;
        subs.push({ kind: s.kind, run: s.run, tag: s.tag });
        const c = this.minCursor(set);
        const eff = c === null ? this.cursor : c;
        if (since === null || eff < since) since = eff;
      }
      if (since === null) since = this.cursor;
      const q = new URLSearchParams({ since: String(since), subs: JSON.stringify(subs) });
      const r = await fetch(`api/live/poll?${q}`, { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      let j = await r.json();
      if (j && "code" in j && "data" in j && !("messages" in j)) j = j.data;
      for (const m of j.messages || []) this.dispatch(m);
      const c2 = Number(j.cursor);
      if (Number.isFinite(c2)) {
        for (const set of this.subs.values()) for (const s of set) if (s.cursor === null || s.cursor < c2) s.cursor = c2;
        this.noteCursor(c2);
      }
      if (this.state !== "polling" && this.polling) this.setState("polling");
    } catch {
      /* keep polling */
    } finally {
      this.pollInFlight = false;
    }
  }

  private dispatch(msg: any): void {
    if (!msg || typeof msg !== "object") return;
    this.messages++;
    switch (msg.type) {
      case "batch":
        this.messages--;
        if (Array.isArray(msg.messages)) for (const m of msg.messages) this.dispatch(m);
        break;
      case "hello":
        if (Number.isFinite(Number(msg.heartbeat))) this.heartbeat = Number(msg.heartbeat);
        this.noteCursor(msg.cursor);
        break;
      case "points": {
        const set = this.subs.get(key(msg.kind, msg.run, msg.tag));
        if (set) {
          for (const s of set) {
            const c = Number(msg.cursor);
            if (Number.isFinite(c) && (s.cursor === null || c > s.cursor)) s.cursor = c;
            s.onPoints(msg);
          }
        }
        for (const f of this.pointsListeners) f(msg);
        this.noteCursor(msg.cursor);
        break;
      }
      case "category":
        this.categoryListeners.forEach((f) => f(msg));
        this.noteCursor(msg.cursor);
        break;
      case "heartbeat":
        this.noteCursor(msg.cursor);
        break;
      case "resync": {
        // The server dropped this client's queue and its subscriptions: resubscribe each from
        // the last cursor we processed (or the one the server says it sent).
        const given = new Map<string, number>();
        for (const g of Array.isArray(msg.subscriptions) ? msg.subscriptions : []) {
          if (g && Number.isFinite(Number(g.cursor))) given.set(key(g.kind, g.run, g.tag), Number(g.cursor));
        }
        for (const [k, set] of this.subs) {
          const s = set.values().next().value as Sub;
          const since = this.minCursor(set) ?? given.get(k) ?? this.cursor;
          this.send({ op: "unsubscribe", kind: s.kind, run: s.run, tag: s.tag });
          this.sendSubscribe(s.kind, s.run, s.tag, since);
        }
        break;
      }
      default:
        break;
    }
  }
}
