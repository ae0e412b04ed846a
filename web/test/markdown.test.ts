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
