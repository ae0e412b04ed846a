/**
 * The projector's metadata table (`/api/projector_metadata`): every column of a TensorBoard
 * `metadata.tsv`, so the search box can match any column and the points be coloured by it (a "Column"
 * picker appears when there is more than one) and the sample pane lists a point's whole row.
 */
import { getJSON } from "../api";
import { h } from "../app";
import { picker } from "./common";

export class MetadataColumns {
  columns: string[] = [];
  rows: string[][] = [];
  private seq = 0;
  readonly pick = picker("Column", "proj-column", () => this.onChange());

  constructor(private onChange: () => void) {
    this.pick.el.hidden = true;
  }

  /** Read the table of (run, tag, step); calls `onChange` when it arrives. */
  async load(run: string, tag: string, step: string): Promise<void> {
    const seq = ++this.seq;
    let d: any;
    try {
      d = await getJSON("projector_metadata", { run, tag, step });
    } catch {
      d = null; // an older step or a failed read: search the labels alone
    }
    if (seq !== this.seq) return;
    this.columns = Array.isArray(d?.columns) ? d.columns.map(String) : [];
    this.rows = Array.isArray(d?.rows) ? d.rows.map((r: unknown[]) => (Array.isArray(r) ? r.map(String) : [])) : [];
    this.pick.set(this.columns.map(String), this.columns);
    this.pick.el.hidden = this.columns.length < 2;
    this.onChange();
  }

  /** The searched column's value of every point, or null to search the labels. */
  searched(n: number): string[] | null {
    const c = this.columns.indexOf(this.pick.sel.value);
    if (c <= 0 || this.rows.length !== n) return null; // column 0 is the label column
    return this.rows.map((r) => r[c] ?? "");
  }

  /** "name: value" lines of point i (empty without a table of several columns). */
  describe(i: number): HTMLElement[] {
    const row = this.rows[i];
    if (!row || this.columns.length < 2) return [];
    return this.columns.map((c, k) => h("div", { class: "proj-meta-row" }, h("span", { class: "muted" }, `${c}: `), row[k] ?? ""));
  }
}
