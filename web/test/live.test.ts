import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** A fake WebSocket recording what the client sends. */
class FakeWS {
  static OPEN = 1;
  static instances: FakeWS[] = [];
  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeWS.instances.push(this);
  }
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  push(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWS.instances = [];
  (globalThis as any).window = globalThis;
  (globalThis as any).location = { href: "http://h:1/", search: "" };
  (globalThis as any).WebSocket = FakeWS;
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("Live", async () => {
  const { Live } = await import("../src/live");

  it("subscribes with since, dispatches points and resubscribes after a resync", () => {
    const live = new Live();
    live.start();
    const ws = FakeWS.instances[0];
    expect(ws.url).toBe("ws://h:1/ws");
    const got: any[] = [];
    live.subscribe("scalar", "r", "t", 10, (m) => got.push(m));
    ws.open();
    expect(live.state).toBe("live");
    expect(ws.sent).toContainEqual({ op: "subscribe", kind: "scalar", run: "r", tag: "t", since: 10 });
    ws.push({ type: "hello", cursor: 12, heartbeat: 5 });
    ws.push({ type: "points", kind: "scalar", run: "r", tag: "t", points: [[1, 11, 0.5]], cursor: 11 });
    expect(got.length).toBe(1);
    expect(live.cursor).toBe(12);
    ws.sent = [];
    ws.push({ type: "resync", reason: "slow", subscriptions: [{ kind: "scalar", run: "r", tag: "t", cursor: 11 }] });
    expect(ws.sent).toContainEqual({ op: "subscribe", kind: "scalar", run: "r", tag: "t", since: 11 });
  });

  it("falls back to polling after two failed connects and back to live when the socket opens", async () => {
    const fetchMock = vi.fn(async () => ({
      ok: true,
      json: async () => ({ code: 200, msg: "ok", data: { messages: [{ type: "category", run: "new", kind: "run", tags: [], cursor: 5 }], cursor: 5 } }),
    }));
    vi.stubGlobal("fetch", fetchMock);
    const live = new Live({ pollInterval: 1000 });
    const cats: any[] = [];
    live.onCategory((m) => cats.push(m));
    live.start();
    FakeWS.instances[0].close();
    expect(live.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1100);
    FakeWS.instances[1].close();
    expect(live.state).toBe("polling");
    await vi.advanceTimersByTimeAsync(10);
    expect(fetchMock).toHaveBeenCalled();
    expect(String((fetchMock.mock.calls[0] as any[])[0])).toContain("api/live/poll?since=0");
    expect(cats[0].run).toBe("new");
    expect(live.cursor).toBe(5);
    // The socket keeps being retried; when it opens, polling stops.
    await vi.advanceTimersByTimeAsync(5000);
    const ws = FakeWS.instances[FakeWS.instances.length - 1];
    ws.open();
    expect(live.state).toBe("live");
    const calls = fetchMock.mock.calls.length;
    await vi.advanceTimersByTimeAsync(3000);
    expect(fetchMock.mock.calls.length).toBe(calls);
  });
});
