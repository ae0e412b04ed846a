import { App, h } from "../app";

/** A labelled <select> that keeps its value when options are refreshed. */
export function picker(label: string, cls: string, onChange: (v: string) => void): { el: HTMLElement; sel: HTMLSelectElement; set: (opts: string[], labels?: string[]) => void } {
  const sel = h("select", { class: cls, onchange: () => onChange(sel.value) });
  const el = h("label", { class: "picker" }, label + " ", sel);
  return {
    el,
    sel,
    set(opts: string[], labels?: string[]) {
      const prev = sel.value;
      sel.replaceChildren(...opts.map((o, i) => h("option", { value: o }, labels?.[i] ?? o)));
      if (opts.includes(prev)) sel.value = prev;
    },
  };
}

export function errorBox(e: unknown): HTMLElement {
  return h("div", { class: "error" }, e instanceof Error ? e.message : String(e));
}

/**
 * Views without a /ws stream of their own (media, PR curves, hparams, projector) call `f` when
 * the session's cursor moves (at most every `gapMs`) and every `pollMs` while the page is
 * visible (not every commit moves the pushed cursor). Returns the function that stops it.
 */
export function onNewData(app: App, f: () => void, gapMs = 2000, pollMs = 4000): () => void {
  let last = 0;
  let timer: number | null = null;
  const kick = () => {
    if (timer !== null) return;
    timer = window.setTimeout(() => {
      timer = null;
      last = Date.now();
      f();
    }, Math.max(0, gapMs - (Date.now() - last)));
  };
  const off = app.live.onCursor(kick);
  const poller = window.setInterval(() => {
    if (document.visibilityState === "visible") kick();
  }, pollMs);
  return () => {
    off();
    clearInterval(poller);
    if (timer !== null) clearTimeout(timer);
  };
}
