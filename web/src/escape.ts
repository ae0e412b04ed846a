/**
 * The one way the dashboard turns strings into HTML.
 *
 * Run, tag, group, node and label names come from files anyone can write into a logdir, and
 * ECharts puts whatever a tooltip formatter returns into `innerHTML`. So HTML is only ever
 * built with the `html` tagged template, which escapes every interpolated value unless it is
 * already `SafeHtml` (made by `html` itself), and reaches the DOM only through `setHtml` or an
 * ECharts formatter wrapped in `tip`. Everything else uses text nodes (`h()` in app.ts).
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Text to HTML that shows exactly that text, in element content and in quoted attributes. */
export function escapeHtml(s: unknown): string {
  return String(s ?? "").replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/** A string known to be safe HTML: only `html` and `joinHtml` make one. */
export class SafeHtml {
  readonly #value: string; // a private field makes the type nominal: no object literal passes as one
  constructor(value: string) {
    this.#value = value;
  }
  get value(): string {
    return this.#value;
  }
  toString(): string {
    return this.#value;
  }
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[];

function part(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (v === null || v === undefined || v === false) return "";
  if (Array.isArray(v)) return v.map(part).join("");
  return escapeHtml(v);
}

/**
 * Tagged template: `html\`<b>${name}</b>\`` escapes `name`; nested `html` results, and arrays
 * of them, are kept; null, undefined and false render as nothing.
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Join parts (escaping plain strings) with a separator, e.g. `joinHtml(lines, html\`<br>\`)`. */
export function joinHtml(parts: readonly Part[], sep: SafeHtml | string = ""): SafeHtml {
  return new SafeHtml(parts.map(part).join(part(sep)));
}

/** The only `innerHTML` assignment of the dashboard. */
export function setHtml(el: Element, content: SafeHtml): void {
  el.innerHTML = content.value;
}

/**
 * An ECharts tooltip formatter: ECharts puts the returned string into `innerHTML`, so the
 * callback must return `SafeHtml` (built with `html`), which this turns into the string.
 */
export function tip<P = any>(f: (p: P) => SafeHtml): (p: P) => string {
  return (p: P) => f(p).value;
}
