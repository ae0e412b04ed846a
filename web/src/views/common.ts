import { h } from "../app";

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
