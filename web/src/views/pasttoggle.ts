/**
 * A chart's earlier-writes toggle: its own choice to show the earlier writes of restarted runs
 * (the sidebar's applies until then), and the head button, there only on charts with a
 * restarted run (or while the writes are shown).
 */
import { App, h } from "../app";
import { restarts } from "../watchstate";
import { icon } from "./charttools";

/** Per-chart choice to show (or hide) earlier writes, overriding the sidebar's; by key. */
const pastChoice = new Map<string, boolean>();

export class PastToggle {
  readonly btn: HTMLButtonElement;

  /** `head` is the card head the button sits in; `runs` the chart's lines; `changed` redraws. */
  constructor(
    private app: App, private key: string, private head: () => HTMLElement,
    private runs: () => ReadonlyArray<{ run: string }>, private changed: () => void,
  ) {
    this.btn = h("button", { class: "btn past-toggle", onclick: () => this.set(!this.on()) }, icon("past"));
  }

  on(): boolean {
    return pastChoice.get(this.key) ?? this.app.settings.pastWrites;
  }

  /** This chart's own choice to show earlier writes (the sidebar's applies until then). */
  set(on: boolean): void {
    if (on === this.app.settings.pastWrites) pastChoice.delete(this.key);
    else pastChoice.set(this.key, on);
    this.paint();
    this.changed();
  }

  /** The earlier-writes toggle shows on charts with a restarted run (or when they are shown). */
  paint(): void {
    const on = this.on();
    // In the head only when it means something (a hidden button would still be in the way).
    if (!on && !this.runs().some((l) => restarts.has(l.run))) this.btn.remove();
    else if (!this.btn.isConnected) this.head().insertBefore(this.btn, this.head().querySelector(".pin, .reset-zoom"));
    this.btn.classList.toggle("on", on);
    this.btn.setAttribute("aria-pressed", String(on));
    this.btn.setAttribute("aria-label", on ? "hide earlier writes" : "show earlier writes");
    this.btn.title = on ? "hide the earlier writes of restarted runs" : "show the earlier writes of restarted runs, dashed: what a resumed job wrote before its steps went back";
  }
}
