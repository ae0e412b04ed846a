/**
 * Card-head tools of a scalar chart of one tag: pin it to the pinned area, and set an alert
 * threshold (value above / below), drawn on the chart as a dashed line and watched live by the
 * alert monitor (views/runwatch.ts). Both are kept in localStorage (src/watchstate.ts).
 */
import uPlot from "uplot";
import { h } from "../app";
import type { Threshold } from "../alerts";
import { pins, thresholds } from "../watchstate";

/**
 * A small icon: a span painted through a CSS mask (style.css, `.icon-NAME`), not an inline
 * <svg> or an emoji (headless and many Linux desktops have no emoji font; the page builds no
 * SVG elements, which the XSS test watches for).
 */
export function icon(name: "pin" | "bell" | "past"): HTMLElement {
  return h("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
}

export class ChartTools {
  pin: HTMLButtonElement;
  bell: HTMLButtonElement;
  form: HTMLElement;
  private above = h("input", { type: "number", step: "any", class: "thr-above", "aria-label": "alert when a value is above" });
  private below = h("input", { type: "number", step: "any", class: "thr-below", "aria-label": "alert when a value is below" });
  private offs: Array<() => void> = [];

  constructor(private tag: string, onThreshold: () => void) {
    this.pin = h("button", { class: "btn pin", "aria-label": `pin ${tag}`, onclick: () => pins.toggle(tag) }, icon("pin"));
    this.bell = h("button", { class: "btn bell", "aria-label": `alert threshold of ${tag}`, "aria-expanded": "false", onclick: () => this.toggleForm() }, icon("bell"));
    const set = h("button", { class: "btn thr-set", onclick: () => this.save() }, "set");
    const clear = h("button", { class: "btn thr-clear", onclick: () => { thresholds.set(tag, {}); this.fill(); } }, "clear");
    this.form = h("form", { class: "threshold-form", hidden: true },
      h("span", { class: "muted" }, "alert when any run is"), h("label", {}, "above ", this.above), h("label", {}, "below ", this.below), set, clear);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    this.offs.push(pins.on(() => this.paint()), thresholds.on(() => {
      this.paint();
      onThreshold();
    }));
    this.paint();
  }

  private toggleForm(): void {
    this.form.hidden = !this.form.hidden;
    this.bell.setAttribute("aria-expanded", String(!this.form.hidden));
    if (!this.form.hidden) {
      this.fill();
      this.above.focus();
    }
  }

  private fill(): void {
    const t = thresholds.get(this.tag);
    this.above.value = t?.above === undefined ? "" : String(t.above);
    this.below.value = t?.below === undefined ? "" : String(t.below);
  }

  private save(): void {
    const t: Threshold = {};
    const a = this.above.value.trim() === "" ? NaN : Number(this.above.value);
    const b = this.below.value.trim() === "" ? NaN : Number(this.below.value);
    if (Number.isFinite(a)) t.above = a;
    if (Number.isFinite(b)) t.below = b;
    thresholds.set(this.tag, t);
    this.form.hidden = true;
    this.bell.setAttribute("aria-expanded", "false");
  }

  private paint(): void {
    const on = pins.has(this.tag);
    this.pin.classList.toggle("on", on);
    this.pin.setAttribute("aria-pressed", String(on));
    this.pin.title = on ? "unpin (remove from the pinned charts at the top)" : "pin to the top of the page (stays live; compare tags of different groups)";
    const t = thresholds.get(this.tag);
    const parts = t ? [t.above !== undefined ? `above ${t.above}` : "", t.below !== undefined ? `below ${t.below}` : ""].filter(Boolean) : [];
    this.bell.classList.toggle("on", parts.length > 0);
    this.bell.title = parts.length ? `alert when a value is ${parts.join(" or ")} (click to change)` : "set an alert threshold: the page says so when a live value crosses it";
  }

  destroy(): void {
    this.offs.forEach((f) => f());
  }
}

/** Draw the tag's thresholds as dashed lines; returns [which, y] in CSS px for the ones inside. */
export function drawThresholds(u: uPlot, t: Threshold | undefined): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (!t) return out;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const dpr = uPlot.pxRatio || 1;
  ctx.save();
  ctx.setLineDash([6 * dpr, 4 * dpr]);
  ctx.lineWidth = 1.5 * dpr;
  ctx.strokeStyle = "#d32f2f";
  ctx.fillStyle = "#d32f2f";
  ctx.font = `${10 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = "right";
  for (const [which, v] of [["above", t.above], ["below", t.below]] as const) {
    if (v === undefined) continue;
    if (u.scales.y.distr === 3 && !(v > 0)) continue;
    const y = u.valToPos(v, "y", true);
    if (!(y >= top && y <= top + height)) continue;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    ctx.fillText(`${which === "above" ? "▲" : "▼"} ${v}`, left + width - 4 * dpr, y - 3 * dpr);
    out.push([which, y / dpr]);
  }
  ctx.restore();
  return out;
}
