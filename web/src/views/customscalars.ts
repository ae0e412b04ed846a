/**
 * Custom scalars (TensorBoard's custom_scalars plugin): the layouts written by
 * `add_custom_scalars`, one collapsible section per category, a chart per layout chart.
 * Multiline charts draw every (run, tag) whose tag matches one of the chart's regexes; margin
 * charts draw each value with a band from its lower to its upper tag. Lines are live scalar
 * series (the same charts as the Scalars view: smoothing, outliers, NaN markers, tooltips).
 */
import { App, Change, h, View } from "../app";
import { chartLines, mergeLayouts, type LayoutCategory } from "../layouts";
import { schedule, SmoothingWatch } from "./chartsched";
import { ScalarChart } from "./scalarchart";

const COLLAPSED_KEY = "tsvis-live.collapsed.custom";

export class CustomScalarsView implements View {
  el: HTMLElement;
  private body = h("div", { class: "groups" });
  private charts = new Map<string, { chart: ScalarChart; invalid: HTMLElement }>();
  private sig = "";
  private cats: LayoutCategory[] = [];
  private smoothing: SmoothingWatch;
  private collapsed: Record<string, boolean>;

  constructor(private app: App) {
    this.el = h("section", { class: "view view-custom" }, this.body);
    this.smoothing = new SmoothingWatch(() => app.settings.smoothing);
    try {
      this.collapsed = JSON.parse(localStorage.getItem(COLLAPSED_KEY) || "{}");
    } catch {
      this.collapsed = {};
    }
    this.update("categories");
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const { chart } of this.charts.values()) schedule(chart);
      return;
    }
    if (c === "settings") {
      this.smoothing.settingsChanged(
        () => { for (const { chart } of this.charts.values()) chart.refetchAll(); },
        () => { for (const { chart } of this.charts.values()) schedule(chart); },
      );
      return;
    }
    const cats = mergeLayouts(this.app.layouts);
    const sig = JSON.stringify(cats);
    if (sig !== this.sig) {
      this.sig = sig;
      this.cats = cats;
      this.build();
    }
    this.syncLines();
  }

  /** One <details> per category and a chart per layout chart (rebuilt when layouts change). */
  private build(): void {
    for (const { chart } of this.charts.values()) chart.destroy();
    this.charts.clear();
    this.body.replaceChildren(...this.cats.map((cat, ci) => {
      const cards = h("div", { class: "cards" });
      const details = h("details", { class: "group", "data-group": cat.title }, h("summary", {}, h("span", { class: "gname" }, cat.title), h("span", { class: "count" }, String(cat.charts.length))), cards) as HTMLDetailsElement;
      details.open = !(this.collapsed[cat.title] ?? cat.closed);
      details.addEventListener("toggle", () => {
        this.collapsed[cat.title] = !details.open;
        localStorage.setItem(COLLAPSED_KEY, JSON.stringify(this.collapsed));
      });
      cat.charts.forEach((lc, k) => {
        const title = lc.title || (lc.multiline ?? lc.margin?.map((m) => m.value) ?? []).join(", ");
        const kind = lc.multiline ? "multiline" : "margin";
        const key = `custom:${ci}:${k}`;
        const chart = new ScalarChart(this.app, `${key}:${title}`, title, "custom-card", { "data-chart": title, "data-kind": kind });
        const invalid = h("div", { class: "error", hidden: true });
        chart.el.insertBefore(invalid, chart.el.children[1]);
        this.charts.set(key, { chart, invalid });
        cards.append(chart.el);
      });
      return details;
    }));
  }

  private syncLines(): void {
    const runs = this.app.activeRuns();
    const tagsOf = (run: string) => this.app.cat.get(run)?.get("scalar") ?? [];
    this.cats.forEach((cat, ci) => cat.charts.forEach((lc, k) => {
      const entry = this.charts.get(`custom:${ci}:${k}`);
      if (!entry) return;
      const { lines, invalid } = chartLines(lc, runs, tagsOf);
      entry.chart.setLines(lines);
      entry.chart.el.dataset.lines = JSON.stringify(lines.map((l) => l.id));
      entry.chart.el.dataset.bands = String(lines.filter((l) => l.lower && l.upper).length);
      const what = lc.multiline ? lc.multiline.join(", ") : (lc.margin ?? []).map((m) => m.value).join(", ");
      const why = invalid.length ? `not a valid regular expression: ${invalid.join(", ")}`
        : !lines.length ? `no scalar tag of the selected runs matches ${what}` : "";
      entry.invalid.hidden = !why;
      entry.invalid.className = invalid.length ? "error" : "muted chart-note";
      entry.invalid.textContent = why;
      entry.chart.el.classList.toggle("no-lines", !lines.length);
    }));
  }

  destroy(): void {
    this.smoothing.destroy();
    for (const { chart } of this.charts.values()) chart.destroy();
    this.charts.clear();
  }
}
