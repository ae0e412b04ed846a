/** The Scalars view: a chart per tag, one line per run, tags grouped by their prefix. */
import { App, Change, h, TagGroups, View } from "../app";
import { groupTags } from "../data/names";
import { schedule, SmoothingWatch } from "./chartsched";
import { PinnedArea } from "./pinned";
import { ScalarChart } from "./scalarchart";

export { ScalarChart } from "./scalarchart";

export class ScalarsView implements View {
  el: HTMLElement;
  private groups: TagGroups<ScalarChart>;
  private smoothing: SmoothingWatch;
  private pinned: PinnedArea;

  constructor(private app: App) {
    this.groups = new TagGroups<ScalarChart>("tsvis-live.collapsed.scalar", (tag) => new ScalarChart(app, `scalar:${tag}`, tag, "scalar-card", { "data-tag": tag }, tag));
    this.pinned = new PinnedArea(app);
    this.el = h("section", { class: "view view-scalars" }, this.pinned.el, this.groups.el);
    this.smoothing = new SmoothingWatch(() => app.settings.smoothing);
    this.update("categories");
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const ch of this.groups.items.values()) schedule(ch);
      this.pinned.redraw();
      return;
    }
    if (c === "settings") {
      this.smoothing.settingsChanged(() => {
        for (const ch of this.groups.items.values()) ch.refetchAll();
        this.pinned.refetchAll();
      }, () => {
        for (const ch of this.groups.items.values()) schedule(ch);
        this.pinned.redraw();
      });
      return;
    }
    const tags = this.app.tags("scalar");
    this.groups.sync(groupTags(tags));
    for (const [tag, ch] of this.groups.items) ch.sync(this.app.runsFor("scalar", tag), tag);
    this.pinned.sync();
    this.el.classList.toggle("empty", tags.length === 0);
  }

  destroy(): void {
    this.smoothing.destroy();
    this.groups.destroy();
    this.pinned.destroy();
  }
}
