/** Filtering run and tag names, and grouping tags by prefix (unit-tested in test/names.test.ts). */
import { naturalCompare } from "./natsort";

export interface Filter {
  test: (s: string) => boolean;
  valid: boolean;
}

/** A case-insensitive regex filter; an invalid pattern falls back to a substring match. */
export function compileFilter(pattern: string): Filter {
  const p = pattern.trim();
  if (!p) return { test: () => true, valid: true };
  try {
    const re = new RegExp(p, "i");
    return { test: (s) => re.test(s), valid: true };
  } catch {
    const low = p.toLowerCase();
    return { test: (s) => s.toLowerCase().includes(low), valid: false };
  }
}

/** Group = the tag's part before its first "/" (the whole tag if it has none). */
export function tagGroup(tag: string): string {
  const i = tag.indexOf("/");
  return i < 0 ? tag : tag.slice(0, i);
}

export function groupTags(tags: Iterable<string>): Array<[string, string[]]> {
  const m = new Map<string, string[]>();
  for (const t of tags) {
    const g = tagGroup(t);
    let l = m.get(g);
    if (!l) m.set(g, (l = []));
    l.push(t);
  }
  const groups = [...m.entries()].sort((a, b) => naturalCompare(a[0], b[0]));
  for (const [, l] of groups) l.sort(naturalCompare);
  return groups;
}
