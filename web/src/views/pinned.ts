/**
 * Pinned charts: scalar charts the user pinned (the pin in a card's head) shown together at the top of the
 * Scalars view, in pin order, whatever group their tag is in, so tags of different groups can
 * be compared side by side. Kept in localStorage; each is a live chart like any other (its own
 * series, followed over /ws). The tag filter does not hide them.
 */
import { App, h } from "../app";
import { pins } from "../watchstate";
import { schedule } from "./chartsched";
import { icon } from "./charttools";
import { ScalarChart } from "./scalarchart";

export class PinnedArea {
  el: HTMLElement;
  private body = h("div", { class: "cards pinned-cards" });
  private count = h("span", { class: "count" });
  charts = new Map<string, ScalarChart>();
  private off: () => void;

  constructor(private app: App) {
    this.el = h("section", { class: "pinned-area", hidden: true, "aria-label": "pinned charts" },
      h("div", { class: "pinned-head" }, h("span", { class: "pinned-title" }, icon("pin"), " Pinned"), this.count,
        h("span", { class: "muted hint" }, "pinned charts stay here, live, whatever their group")),
      this.body);
    this.off = pins.on(() => this.sync());
  }

  sync(): void {
    const tags = pins.tags().filter((t) => this.app.allRuns().some((r) => this.app.cat.get(r)?.get("scalar")?.has(t)));
    const want = new Set(tags);
    for (const [tag, ch] of this.charts) {
      if (want.has(tag)) continue;
      ch.destroy();
      ch.el.remove();
      this.charts.delete(tag);
    }
    const els = tags.map((tag) => {
      let ch = this.charts.get(tag);
      if (!ch) {
        ch = new ScalarChart(this.app, `pinned:${tag}`, tag, "pinned-card", { "data-pinned-tag": tag }, tag);
        this.charts.set(tag, ch);
      }
      ch.sync(this.app.runsFor("scalar", tag), tag);
      return ch.el;
    });
    for (let i = 0; i < els.length; i++) if (this.body.children[i] !== els[i]) this.body.insertBefore(els[i], this.body.children[i] ?? null);
    this.el.hidden = tags.length === 0;
    this.count.textContent = String(tags.length);
  }

  redraw(): void {
    for (const ch of this.charts.values()) schedule(ch);
  }

  refetchAll(): void {
    for (const ch of this.charts.values()) ch.refetchAll();
  }

  destroy(): void {
    this.off();
    for (const ch of this.charts.values()) ch.destroy();
    this.charts.clear();
  }
}
