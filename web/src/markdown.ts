/**
 * A small, safe Markdown subset for text summaries (TensorBoard renders text as Markdown):
 * headings, fenced code, bullet lists, pipe tables, paragraphs, `code`, **bold**, *italic* and
 * http(s) links. It parses the raw text and builds the output with the `html` template, so
 * every piece of text is escaped where it is written; raw HTML in the source stays text and a
 * link is a link only when its URL is http(s). Pure; unit-tested.
 */
import { html, joinHtml, type SafeHtml } from "./escape";

/** `code`, [text](url), **bold**, *italic*: the leftmost match wins, in that order. */
const INLINE = /`([^`]+)`|\[([^\]]+)\]\(([^\s)]+)\)|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*/;

/** Only absolute http(s) URLs become links (no javascript:, data:, vbscript:, relative paths). */
export function safeLinkUrl(url: string): string | null {
  return /^https?:\/\/[^\s/?#]+/i.test(url) ? url : null;
}

function inline(s: string): SafeHtml {
  const out: SafeHtml[] = [];
  let last = 0;
  const re = new RegExp(INLINE.source, "g");
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push(html`${s.slice(last, m.index)}`);
    last = m.index + m[0].length;
    const [all, code, text, href, bold, em] = m;
    if (code !== undefined) out.push(html`<code>${code}</code>`);
    else if (text !== undefined) {
      const url = safeLinkUrl(href);
      out.push(url ? html`<a href="${url}" target="_blank" rel="noopener noreferrer">${inline(text)}</a>` : html`${all}`);
    } else if (bold !== undefined) out.push(html`<strong>${inline(bold)}</strong>`);
    else out.push(html`<em>${inline(em)}</em>`);
  }
  out.push(html`${s.slice(last)}`);
  return joinHtml(out);
}

function cells(line: string): string[] {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
const BULLET = /^\s*[-*]\s+/;

/** Markdown source to safe HTML. */
export function markdown(src: string): SafeHtml {
  const lines = src.split(/\r?\n/);
  const out: SafeHtml[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(html`<p>${joinHtml(para.map(inline), html`<br>`)}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^```/.test(l)) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      out.push(html`<pre><code>${code.join("\n")}</code></pre>`);
      continue;
    }
    const hd = /^(#{1,6})\s+(.*)$/.exec(l);
    if (hd) {
      flush();
      const level = hd[1].length; // a number from 1 to 6
      out.push(html`<h${level}>${inline(hd[2])}</h${level}>`);
      continue;
    }
    if (BULLET.test(l)) {
      flush();
      const items: SafeHtml[] = [];
      for (; i < lines.length && BULLET.test(lines[i]); i++) items.push(html`<li>${inline(lines[i].replace(BULLET, ""))}</li>`);
      i--;
      out.push(html`<ul>${items}</ul>`);
      continue;
    }
    if (l.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      flush();
      const head = cells(l);
      const rows: string[][] = [];
      for (i += 2; i < lines.length && lines[i].includes("|"); i++) rows.push(cells(lines[i]));
      i--;
      out.push(html`<table><thead><tr>${head.map((c) => html`<th>${inline(c)}</th>`)}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${inline(c)}</td>`)}</tr>`)}</tbody></table>`);
      continue;
    }
    if (!l.trim()) {
      flush();
      continue;
    }
    para.push(l);
  }
  flush();
  return joinHtml(out);
}

/** `markdown(src)` as a string (for tests and callers that only compare text). */
export function markdownToHtml(src: string): string {
  return markdown(src).value;
}
