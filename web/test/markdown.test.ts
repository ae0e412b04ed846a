import { describe, expect, it } from "vitest";
import { markdownToHtml } from "../src/markdown";

describe("markdown subset", () => {
  it("escapes HTML before anything else", () => {
    expect(markdownToHtml("<script>alert(1)</script>")).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    expect(markdownToHtml('[x](javascript:alert(1))')).not.toContain("<a");
  });
  it("inline styles and links", () => {
    expect(markdownToHtml("run **ok** and *fine* `a*b*c` [doc](https://x.org/a)")).toBe(
      '<p>run <strong>ok</strong> and <em>fine</em> <code>a*b*c</code> <a href="https://x.org/a" target="_blank" rel="noopener noreferrer">doc</a></p>',
    );
  });
  it("blocks: headings, lists, code, tables, paragraphs", () => {
    expect(markdownToHtml("# T\n- a\n- b\n\nx\ny")).toBe("<h1>T</h1><ul><li>a</li><li>b</li></ul><p>x<br>y</p>");
    expect(markdownToHtml("```\n<b>\n```")).toBe("<pre><code>&lt;b&gt;</code></pre>");
    expect(markdownToHtml("a | b\n--- | ---\n1 | 2")).toBe("<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>");
  });
});

describe("markdown cannot inject markup", () => {
  const PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=1</script>",
    '"><svg onload=window.__xss=1>',
  ];
  /** Every tag in the output is one the renderer writes, and no attribute but href/target/rel. */
  const TAG = /<\/?([a-z0-9]+)([^>]*)>/gi;
  const ALLOWED = new Set(["p", "br", "strong", "em", "code", "pre", "a", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6"]);
  function tagsOf(out: string): string[] {
    const bad: string[] = [];
    for (const m of out.matchAll(TAG)) {
      if (!ALLOWED.has(m[1].toLowerCase())) bad.push(m[0]);
      const attrs = m[2].replace(/\s(href|target|rel)="[^"<>]*"/g, "");
      if (attrs.trim()) bad.push(m[0]);
    }
    return bad;
  }
  const places = (p: string) => [
    p, `# ${p}`, `- ${p}`, `**${p}**`, `*${p}*`, `\`${p}\``, `[${p}](https://x.org)`, `[x](https://x.org/${encodeURI(p)})`,
    `a | ${p}\n--- | ---\n${p} | b`, `\`\`\`\n${p}\n\`\`\``, `**[${p}](https://x.org)**`,
  ];
  it("payloads anywhere in the syntax stay text", () => {
    for (const p of PAYLOADS) {
      for (const src of places(p)) {
        const out = markdownToHtml(src);
        expect(tagsOf(out), src).toEqual([]);
        expect(out).not.toMatch(/<(img|script|svg)/i);
      }
    }
  });
  it("only http(s) URLs become links; quotes cannot leave href", () => {
    for (const u of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>", "vbscript:x", "//evil.example/x", "/api/x", "https:/x"]) {
      expect(markdownToHtml(`[x](${u})`), u).not.toContain("<a");
    }
    const out = markdownToHtml('[x](https://e.com/"onmouseover="alert(1))');
    expect(out).toContain('href="https://e.com/&quot;onmouseover=&quot;alert(1"');
    expect(tagsOf(out)).toEqual([]);
  });
  it("text that looks escaped stays as typed", () => {
    expect(markdownToHtml("&lt;b&gt; &amp;")).toBe("<p>&amp;lt;b&amp;gt; &amp;amp;</p>");
  });
});
