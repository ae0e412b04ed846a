/**
 * PR curves (TensorBoard's pr_curves plugin, `add_pr_curve`): a chart per tag with each run's
 * curve at the step its own slider picks (the newest, followed live, until the slider moves),
 * and the areas under the curves. A toolbar switches to ROC curves (TPR against FPR).
 */
import { getJSON } from "../api";
import { App, Change, h, placeInOrder, swatch, TagGroups, View, visibility, fmtNum } from "../app";
import { runColor } from "../colors";
import { groupTags } from "../data/names";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { curvePoints, parseRoc, type CurveKind, type PrStep } from "../prcurves";
import { errorBox, onNewData } from "./common";

const KIND_KEY = "tsvis-live.pr-kind";

class PrRun {
  el: HTMLElement;
  steps: PrStep[] = [];
  private slider: HTMLInputElement;
  private label: HTMLElement;
  private auc: HTMLElement;
  private follow = true;
  idx = -1;

  constructor(public run: string, private onChange: () => void) {
    this.slider = h("input", { type: "range", class: "step-slider", min: "0", max: "0", step: "1", value: "0", "aria-label": `step of ${run}` });
    this.label = h("span", { class: "step-label" });
    this.auc = h("span", { class: "pr-auc muted" });
    this.el = h("div", { class: "pr-run", "data-run": run },
      h("div", { class: "subtitle" }, swatch(run), h("span", { class: "pr-run-name" }, run), h("span", { class: "spacer" }), this.auc, this.label),
      this.slider);
    this.slider.addEventListener("input", () => {
      this.idx = Number(this.slider.value);
      this.follow = this.idx === this.steps.length - 1;
      this.show();
      this.onChange();
    });
  }

  set(steps: PrStep[]): void {
    const keep = !this.follow && this.idx >= 0 ? this.steps[this.idx]?.step : undefined;
    this.steps = steps;
    let idx = steps.length - 1;
    if (keep !== undefined) {
      const j = steps.findIndex((s) => s.step === keep);
      if (j >= 0) idx = j;
    }
    this.idx = idx;
    this.slider.max = String(Math.max(0, steps.length - 1));
    this.slider.value = String(Math.max(0, idx));
    this.slider.disabled = steps.length <= 1;
    this.el.dataset.steps = String(steps.length);
    this.show();
  }

  current(): PrStep | undefined {
    return this.steps[this.idx];
  }

  private show(): void {
    const p = this.current();
    this.label.textContent = p ? `step ${p.step}` : "no data";
    this.auc.textContent = p ? `AUC-PR ${fmtNum(round3(p.aucPr))} · AUC-ROC ${fmtNum(round3(p.aucRoc))}` : "";
    if (p) {
      this.el.dataset.step = String(p.step);
      this.el.dataset.aucPr = String(p.aucPr);
    }
  }
}

const round3 = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : v);

class PrCard {
  el: HTMLElement;
  private chart = new EChart(300, "echart pr-chart");
  private rowsEl = h("div", { class: "pr-runs" });
  runs = new Map<string, PrRun>();
  private order: string[] = [];
  visible = false;
  private loading = false;

  constructor(private view: PrCurvesView, public tag: string) {
    this.el = h("div", { class: "card pr-card", "data-tag": tag },
      h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag)), this.chart.el, this.rowsEl);
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v) this.refresh();
    });
  }

  sync(runs: string[]): void {
    for (const [r, row] of this.runs) if (!runs.includes(r)) { row.el.remove(); this.runs.delete(r); }
    let added = false;
    for (const r of runs) {
      if (this.runs.has(r)) continue;
      this.runs.set(r, new PrRun(r, () => this.draw()));
      added = true;
    }
    this.order = runs.slice();
    placeInOrder(this.rowsEl, runs.map((r) => this.runs.get(r)!.el));
    if (added && this.visible) this.refresh();
    else this.draw();
  }

  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      await Promise.all([...this.runs.values()].map(async (row) => {
        const d = await getJSON("getRoc", { run: row.run, tag: this.tag });
        row.set(parseRoc(d?.[this.tag]));
      }));
      this.el.querySelector(":scope > .error")?.remove();
    } catch (e) {
      this.el.querySelector(":scope > .error")?.remove();
      this.el.append(errorBox(e));
    } finally {
      this.loading = false;
    }
    this.draw();
  }

  draw(): void {
    const kind = this.view.kind;
    const rows = this.order.map((r) => this.runs.get(r)).filter((r): r is PrRun => !!r && !!r.current());
    const [xName, yName] = kind === "pr" ? ["recall", "precision"] : ["false positive rate", "true positive rate"];
    const pt = (row: PrRun, i: number) => {
      const p = row.current()!;
      if (i < 0) return html`<b>${row.run}</b> · step ${p.step}<br>anchor (0, 0)`;
      return html`<b>${row.run}</b> · step ${p.step}<br>threshold ${fmtNum(p.thresholds[i])}<br>precision ${fmtNum(p.precision[i])} · recall ${fmtNum(p.recall[i])}<br>TPR ${fmtNum(p.tpr[i])} · FPR ${fmtNum(p.fpr[i])}<br>TP ${p.tp[i]} · FP ${p.fp[i]} · TN ${p.tn[i]} · FN ${p.fn[i]}`;
    };
    this.chart.set({
      animation: false,
      grid: { left: 48, right: 16, top: 14, bottom: 42 },
      tooltip: { trigger: "item", formatter: tip((q: any) => pt(rows[q.seriesIndex], q.data[2])) },
      xAxis: { type: "value", min: 0, max: 1, name: xName, nameLocation: "middle", nameGap: 26 },
      yAxis: { type: "value", min: 0, max: 1, name: yName, nameLocation: "middle", nameGap: 34 },
      series: rows.map((row) => ({
        type: "line", name: row.run, data: curvePoints(row.current()!, kind), showSymbol: true, symbolSize: 5,
        lineStyle: { color: runColor(row.run), width: 2 }, itemStyle: { color: runColor(row.run) },
      })),
    });
    this.chart.el.dataset.kind = kind;
    this.chart.el.dataset.runs = String(rows.length);
  }

  destroy(): void {
    visibility.unobserve(this.el);
    this.chart.destroy();
  }
}

export class PrCurvesView implements View {
  el: HTMLElement;
  kind: CurveKind = localStorage.getItem(KIND_KEY) === "roc" ? "roc" : "pr";
  private groups: TagGroups<PrCard>;
  private stop: () => void;

  constructor(private app: App) {
    this.groups = new TagGroups<PrCard>("tsvis-live.collapsed.pr", (tag) => new PrCard(this, tag));
    const sel = h("select", { class: "pr-kind" }, h("option", { value: "pr" }, "PR: precision against recall"), h("option", { value: "roc" }, "ROC: TPR against FPR"));
    sel.value = this.kind;
    sel.addEventListener("change", () => {
      this.kind = sel.value === "roc" ? "roc" : "pr";
      localStorage.setItem(KIND_KEY, this.kind);
      for (const c of this.groups.items.values()) c.draw();
    });
    this.el = h("section", { class: "view view-pr" }, h("div", { class: "toolbar" }, h("label", { class: "picker" }, "curve ", sel)), this.groups.el);
    this.update("categories");
    // PR curves have no /ws stream: re-read the visible cards when new data is committed.
    this.stop = onNewData(app, () => {
      for (const c of this.groups.items.values()) if (c.visible) c.refresh();
    });
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const card of this.groups.items.values()) card.draw();
      return;
    }
    if (c === "settings") return;
    this.groups.sync(groupTags(this.app.tags("roc")));
    for (const [tag, card] of this.groups.items) card.sync(this.app.runsFor("roc", tag));
  }

  destroy(): void {
    this.stop();
    this.groups.destroy();
  }
}
