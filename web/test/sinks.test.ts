/**
 * Guards the mechanism, not one case: HTML reaches the DOM only through web/src/escape.ts, every
 * ECharts tooltip formatter goes through `tip()` (so it must return `html`-built SafeHtml), no
 * formatter is a template string (ECharts expands `{b}` in those), and nothing needs eval (the
 * server's Content-Security-Policy forbids it).
 */
import { describe, expect, it } from "vitest";

// Every source file as text, through Vite (no Node typings needed).
const FILES = import.meta.glob("../src/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

function sources(): Array<{ path: string; text: string }> {
  return Object.entries(FILES).map(([p, text]) => ({ path: p.replace("../src/", ""), text }));
}

function hits(re: RegExp, except: string[] = []): string[] {
  const found: string[] = [];
  for (const { path, text } of sources()) {
    if (except.includes(path)) continue;
    for (const m of text.matchAll(re)) found.push(`${path}: ${text.slice(m.index, m.index! + 80)}`);
  }
  return found;
}

describe("HTML sinks", () => {
  it("finds the sources", () => {
    expect(sources().length).toBeGreaterThan(10);
  });
  it("innerHTML and friends only in escape.ts", () => {
    expect(hits(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|srcdoc|createContextualFragment|DOMParser/g, ["escape.ts"])).toEqual([]);
  });
  it("every tooltip formatter is wrapped in tip()", () => {
    expect(hits(/tooltip:\s*\{[^}]*?formatter:(?!\s*tip\()/g)).toEqual([]);
    expect(hits(/tooltip:\s*\{[^}]*?formatter:\s*tip\(/g).length).toBeGreaterThanOrEqual(7);
  });
  it("no formatter is a string template", () => {
    expect(hits(/formatter:\s*["'`]/g)).toEqual([]);
  });
  it("no eval or Function constructor (CSP without unsafe-eval)", () => {
    expect(hits(/\beval\s*\(|new\s+Function\s*\(|setTimeout\(\s*["'`]|setInterval\(\s*["'`]/g)).toEqual([]);
  });
});
