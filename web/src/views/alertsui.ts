/**
 * What the page shows of live alerts: a notice in the corner listing them (each one goes to its
 * chart when clicked, and can be dismissed), a badge on the run in the run list, and the count
 * in the page title. Every name is set as text.
 */
import { h } from "../app";
import type { Alert, AlertKind } from "../alerts";
import type { AlertMonitor } from "./runwatch";

const BADGE: Record<AlertKind, string> = { nan: "NaN", inf: "Inf", above: "threshold", below: "threshold", stalled: "stalled" };
const ICON: Record<AlertKind, string> = { nan: "✕", inf: "∞", above: "▲", below: "▼", stalled: "⏸" };

export class AlertsUI {
  el: HTMLElement;
  private list = h("ul", { class: "alerts-list" });
  private head = h("span", { class: "alerts-title" });
  private hintEl = h("div", { class: "alerts-hint muted", hidden: true });
  private baseTitle = document.title;

  constructor(private monitor: AlertMonitor, private runsEl: HTMLElement, private goTo: (a: Alert) => void) {
    const all = h("button", { class: "btn alerts-dismiss-all", onclick: () => this.dismissAll() }, "dismiss all");
    this.el = h("section", { class: "alerts", id: "alerts", role: "alert", "aria-live": "assertive", hidden: true },
      h("div", { class: "alerts-head" }, this.head, all), this.list, this.hintEl);
    monitor.onChange(() => this.render());
  }

  /** A line under the list (e.g. why the chart of an alert cannot be shown); "" hides it. */
  hint(text: string): void {
    this.hintEl.textContent = text;
    this.hintEl.hidden = !text;
  }

  private dismissAll(): void {
    for (const a of this.monitor.book.list()) this.monitor.book.dismiss(a.id);
    this.monitor.emit();
  }

  render(): void {
    const alerts = this.monitor.book.list();
    this.el.hidden = alerts.length === 0;
    this.el.dataset.count = String(alerts.length);
    this.head.textContent = `⚠ ${alerts.length} alert${alerts.length === 1 ? "" : "s"}`;
    this.list.replaceChildren(...alerts.map((a) => {
      const go = h("button", { class: "alert-go", title: a.tag ? `go to the chart of ${a.tag}` : a.run },
        h("span", { class: "alert-icon" }, ICON[a.kind]), h("span", { class: "alert-run" }, a.run),
        a.tag ? h("span", { class: "alert-tag" }, a.tag) : "",
        h("span", { class: "alert-detail" }, a.detail + (a.count > 1 ? ` (${a.count} times)` : "")));
      go.addEventListener("click", () => this.goTo(a));
      const x = h("button", { class: "alert-dismiss", title: "dismiss", "aria-label": `dismiss the alert on ${a.run}` }, "✕");
      x.addEventListener("click", () => this.monitor.dismiss(a.id));
      return h("li", { class: `alert-item alert-${a.kind}`, "data-kind": a.kind, "data-run": a.run, "data-tag": a.tag }, go, x);
    }));
    document.title = alerts.length ? `⚠ ${alerts.length} · ${this.baseTitle}` : this.baseTitle;
    this.decorateRuns();
  }

  /** A badge on each run row with alerts (call again after the run list is rebuilt). */
  decorateRuns(): void {
    for (const row of this.runsEl.querySelectorAll<HTMLElement>(".run-row")) {
      const run = row.dataset.runRow ?? "";
      const alerts = this.monitor.book.byRun(run);
      let badge = row.querySelector<HTMLElement>(".run-alert");
      if (!alerts.length) {
        badge?.remove();
        continue;
      }
      if (!badge) {
        badge = h("span", { class: "run-alert" });
        // Beside the label, not in it: clicking the badge must not switch the run off.
        row.insertBefore(badge, row.querySelector(".run-color"));
      }
      const kinds = [...new Set(alerts.map((a) => BADGE[a.kind]))];
      badge.textContent = kinds.join(" · ");
      badge.dataset.kinds = [...new Set(alerts.map((a) => a.kind))].join(" ");
      badge.title = alerts.map((a) => `${a.tag ? `${a.tag}: ` : ""}${a.detail}`).join("\n");
      badge.classList.toggle("stalled-only", alerts.every((a) => a.kind === "stalled"));
    }
  }
}

/**
 * Scroll the Scalars view to the chart of `tag` (opening its group), once it exists, and make
 * it flash; resolves false when no such chart shows up (filtered out, run switched off).
 */
export function scrollToChart(tag: string, timeoutMs = 5000): Promise<boolean> {
  const t0 = performance.now();
  return new Promise((res) => {
    const tick = () => {
      const card = [...document.querySelectorAll<HTMLElement>(".view-scalars .groups .scalar-card")].find((c) => c.dataset.tag === tag);
      if (card) {
        const det = card.closest("details");
        if (det && !det.open) det.open = true;
        card.scrollIntoView({ block: "center" });
        card.classList.remove("alert-flash");
        void card.offsetWidth; // restart the animation
        card.classList.add("alert-flash");
        window.setTimeout(() => card.classList.remove("alert-flash"), 2400);
        res(true);
        return;
      }
      if (performance.now() - t0 > timeoutMs) res(false);
      else requestAnimationFrame(tick);
    };
    tick();
  });
}
