import { describe, expect, it } from "vitest";
import { escapeHtml, html, joinHtml, SafeHtml, tip } from "../src/escape";

const PAYLOADS = [
  '<img src=x onerror="window.__xss=1">',
  "<script>window.__xss=1</script>",
  '"><svg onload=window.__xss=1>',
  "'><a href=javascript:alert(1)>x</a>",
  "&lt;img src=x&gt;", // already-escaped text must stay visible as typed
  "`${x}` {a} {b|c}",
];

/** What a browser shows for escaped text: the inverse of escapeHtml. */
function unescape(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_m, e) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#96": "`" } as Record<string, string>)[e]);
}

describe("escapeHtml", () => {
  it("escapes every character that can open markup or leave an attribute", () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`</a>`)).toBe("&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;");
  });
  it("round-trips: the browser shows exactly the original text", () => {
    for (const p of PAYLOADS) {
      const e = escapeHtml(p);
      expect(e).not.toMatch(/[<>"'`]/);
      expect(unescape(e)).toBe(p);
    }
  });
  it("turns non-strings into text", () => {
    expect(escapeHtml(null)).toBe("");
    expect(escapeHtml(undefined)).toBe("");
    expect(escapeHtml(1.5)).toBe("1.5");
  });
});

describe("html template", () => {
  it("escapes every interpolation and keeps the literal markup", () => {
    for (const p of PAYLOADS) {
      const out = html`<b>${p}</b><br>${p}`.value;
      expect(out.startsWith("<b>") && out.includes("</b><br>")).toBe(true);
      const text = out.replace(/^<b>|<\/b><br>/g, "\u0000");
      expect(text).not.toMatch(/[<>"'`]/);
      expect(text.split("\u0000").filter(Boolean).map(unescape)).toEqual([p, p]);
    }
  });
  it("inside a quoted attribute a value cannot close the quote", () => {
    const out = html`<a title="${'" onmouseover="alert(1)'}">x</a>`.value;
    expect(out).toBe('<a title="&quot; onmouseover=&quot;alert(1)">x</a>');
  });
  it("nests html results without escaping them twice, arrays too", () => {
    const inner = html`<i>${"<x>"}</i>`;
    expect(html`<p>${inner}</p>`.value).toBe("<p><i>&lt;x&gt;</i></p>");
    expect(html`<ul>${["<a>", "b"].map((s) => html`<li>${s}</li>`)}</ul>`.value).toBe("<ul><li>&lt;a&gt;</li><li>b</li></ul>");
    expect(html`${["<raw>"]}`.value).toBe("&lt;raw&gt;");
  });
  it("null, undefined and false render as nothing; 0 and true as text", () => {
    expect(html`[${null}${undefined}${false}${0}${true}]`.value).toBe("[0true]");
  });
  it("an object that only looks like SafeHtml is escaped as text", () => {
    const fake = { value: "<img src=x onerror=alert(1)>", toString: () => "<img src=x onerror=alert(1)>" };
    expect(html`${fake as any}`.value).toBe("&lt;img src=x onerror=alert(1)&gt;");
    expect(html`${new SafeHtml("<br>")}`.value).toBe("<br>");
  });
});

describe("joinHtml and tip", () => {
  it("joinHtml escapes strings, keeps SafeHtml, separator included", () => {
    expect(joinHtml(["<a>", html`<b>`], html`<br>`).value).toBe("&lt;a&gt;<br><b>");
    expect(joinHtml(["x", "y"], "<sep>").value).toBe("x&lt;sep&gt;y");
  });
  it("tip returns the escaped string ECharts puts into innerHTML", () => {
    const f = tip((p: { name: string }) => html`${p.name}<br>x`);
    expect(f({ name: PAYLOADS[0] })).toBe("&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;<br>x");
  });
});
