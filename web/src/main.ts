import "./style.css";
import { getJSON } from "./api";
import { App, Change, h, repaintSwatches, View } from "./app";
import { runColor } from "./colors";
import { echarts } from "./echarts";
import { Live } from "./live";
import { ScalarsView } from "./views/scalars";
import { CustomScalarsView } from "./views/customscalars";
import { PrCurvesView } from "./views/prcurves";
import { HistogramsView, DistributionsView } from "./views/statistic";
import { ImagesView, AudioView, TextView } from "./views/media";
import { GraphView } from "./views/graph";
import { HparamsView } from "./views/hparams";
import { ProjectorView } from "./views/projector";
import { ExceptionsView } from "./views/exceptions";
import { MeshesView } from "./views/meshes";
import { AlertMonitor } from "./views/runwatch";
import { AlertsUI, scrollToChart } from "./views/alertsui";

interface TabDef {
  id: string;
  label: string;
  kinds: string[];
  make: (app: App) => View;
  /** What the tab shows, and what writes it: said when the runs have none. */
  what: string;
  writers: string;
  /** Whether there is anything to show, when that is not a kind of getCategory. */
  has?: () => boolean;
}

const TABS: TabDef[] = [
  { id: "scalars", label: "Scalars", kinds: ["scalar"], make: (a) => new ScalarsView(a), what: "scalars", writers: "add_scalar / add_scalars (tensorboardX, torch.utils.tensorboard) or tf.summary.scalar write them" },
  { id: "custom_scalars", label: "Custom scalars", kinds: [], make: (a) => new CustomScalarsView(a), what: "custom scalar layouts", writers: "add_custom_scalars (tensorboardX, torch.utils.tensorboard) writes them", has: () => app.layouts.length > 0 },
  { id: "histograms", label: "Histograms", kinds: ["histogram"], make: (a) => new HistogramsView(a), what: "histograms", writers: "add_histogram or tf.summary.histogram write them" },
  { id: "distributions", label: "Distributions", kinds: ["histogram", "distribution"], make: (a) => new DistributionsView(a), what: "distributions", writers: "they are drawn from histograms, which add_histogram or tf.summary.histogram write" },
  { id: "images", label: "Images", kinds: ["image"], make: (a) => new ImagesView(a), what: "images", writers: "add_image / add_images or tf.summary.image write them" },
  { id: "audio", label: "Audio", kinds: ["audio"], make: (a) => new AudioView(a), what: "audio", writers: "add_audio or tf.summary.audio write it" },
  { id: "text", label: "Text", kinds: ["text"], make: (a) => new TextView(a), what: "text", writers: "add_text or tf.summary.text write it" },
  { id: "pr_curves", label: "PR curves", kinds: ["roc"], make: (a) => new PrCurvesView(a), what: "PR curves", writers: "add_pr_curve (tensorboardX, torch.utils.tensorboard) or the pr_curves plugin's summaries write them" },
  { id: "graphs", label: "Graphs", kinds: ["graph"], make: (a) => new GraphView(a), what: "graphs", writers: "add_graph (torch.utils.tensorboard, tensorboardX) or tf.summary.trace_export write them" },
  { id: "hparams", label: "HParams", kinds: ["hyperparm", "hparams"], make: (a) => new HparamsView(a), what: "hyperparameters", writers: "add_hparams or the hparams plugin's hp.hparams write them" },
  { id: "projector", label: "Projector", kinds: ["embedding"], make: (a) => new ProjectorView(a), what: "embeddings", writers: "add_embedding writes them (vectors, metadata and sprites under projector/)" },
  { id: "exceptions", label: "Exceptions", kinds: ["exception"], make: (a) => new ExceptionsView(a), what: "exception tensors", writers: "the tsvis writer's add_exception writes them" },
  { id: "meshes", label: "Meshes", kinds: ["mesh"], make: (a) => new MeshesView(a), what: "meshes", writers: "tensorboardX add_mesh / tensorboard.plugins.mesh write them (vertices, faces and vertex colours)" },
];

const params = new URLSearchParams(window.location.search);
const transport = (params.get("transport") as "auto" | "ws" | "poll") || "auto";
const live = new Live({ transport });
const app = new App(live);
// `echarts` lets tests find a chart's items (getInstanceByDom) to hover them with the real mouse.
(window as any).tsvisLive = { app, live, echarts };

const root = document.getElementById("app")!;
const conn = h("span", { class: "conn", id: "conn", "data-state": "connecting" }, "connecting");
const tabsEl = h("nav", { class: "tabs" });
const runsEl = h("div", { class: "runs", id: "runs" });
const runFilter = h("input", { type: "search", id: "run-filter", placeholder: "filter runs (regex)", value: "" });
const tagFilter = h("input", { type: "search", id: "tag-filter", placeholder: "filter tags (regex)", value: "" });
const smoothVal = h("span", { class: "smooth-val" });
const smoothing = h("input", { type: "range", id: "smoothing", min: "0", max: "0.999", step: "0.001" });
const xMode = h("select", { id: "x-mode" }, h("option", { value: "step" }, "step"), h("option", { value: "relative" }, "relative"), h("option", { value: "wall" }, "wall"));
const logY = h("input", { type: "checkbox", id: "log-y" });
const outliers = h("input", { type: "checkbox", id: "ignore-outliers" });
const pastWrites = h("input", { type: "checkbox", id: "past-writes" });
const main = h("main", { id: "main" });

root.append(
  h("header", {}, h("span", { class: "brand" }, "tsvis-live"), tabsEl, h("span", { class: "spacer" }), conn),
  h(
    "div",
    { class: "body" },
    h(
      "aside",
      {},
      h("section", { class: "side-block" }, h("h3", {}, "Runs"), runFilter,
        h("div", { class: "run-actions" }, h("button", { class: "btn", onclick: () => app.setAllRuns(true) }, "all"), h("button", { class: "btn", onclick: () => app.setAllRuns(false) }, "none")),
        runsEl),
      h("section", { class: "side-block" }, h("h3", {}, "Tags"), tagFilter),
      h(
        "section",
        { class: "side-block scalar-settings" },
        h("h3", {}, "Scalars"),
        h("label", {}, "Smoothing ", smoothVal, smoothing),
        h("label", {}, "x-axis ", xMode),
        h("label", {}, logY, " log y"),
        h("label", { title: "y range from the 5th to the 95th percentile of the points shown, as TensorBoard's default: a diverging run does not flatten the others" }, outliers, " ignore outliers in y range"),
        h("label", { title: "a run that was resumed (its steps went back) also shows what it wrote before, dashed and faded, one line per earlier segment" }, pastWrites, " show earlier writes of restarted runs"),
      ),
    ),
    main,
  ),
);

smoothing.value = String(app.settings.smoothing);
smoothVal.textContent = app.settings.smoothing.toFixed(3);
xMode.value = app.settings.xMode;
logY.checked = app.settings.logY;
outliers.checked = app.settings.ignoreOutliers;
pastWrites.checked = app.settings.pastWrites;
smoothing.addEventListener("input", () => {
  smoothVal.textContent = Number(smoothing.value).toFixed(3);
  app.setSettings({ smoothing: Number(smoothing.value) });
});
xMode.addEventListener("change", () => app.setSettings({ xMode: xMode.value as any }));
logY.addEventListener("change", () => app.setSettings({ logY: logY.checked }));
outliers.addEventListener("change", () => app.setSettings({ ignoreOutliers: outliers.checked }));
pastWrites.addEventListener("change", () => app.setSettings({ pastWrites: pastWrites.checked }));
/** A debounced call with its own timer: one per input, so editing one never cancels another. */
function debounced(f: () => void, ms = 150): () => void {
  let timer: number | null = null;
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = window.setTimeout(() => {
      timer = null;
      f();
    }, ms);
  };
}
runFilter.addEventListener("input", debounced(() => {
  app.setRunFilter(runFilter.value);
  runFilter.classList.toggle("invalid", !app.runFilter.valid);
}));
tagFilter.addEventListener("input", debounced(() => {
  app.setTagFilter(tagFilter.value);
  tagFilter.classList.toggle("invalid", !app.tagFilter.valid);
}));

live.onState((s) => {
  conn.dataset.state = s;
  conn.textContent = s === "live" ? "● live" : s === "polling" ? "● polling" : s === "reconnecting" ? "● reconnecting" : "● connecting";
  conn.title = s === "polling" ? "WebSocket unavailable: polling /api/live/poll" : s;
});

function renderRuns(): void {
  const rows = app.allRuns().map((r) => {
    const cb = h("input", { type: "checkbox", checked: !app.deselected.has(r), onchange: () => app.setRunSelected(r, cb.checked) });
    // The colour input sits beside the label (not in it) so clicking it never toggles the run.
    const color = h("input", { type: "color", class: "run-color", value: runColor(r), title: `colour of ${r}`, "aria-label": `colour of ${r}`, "data-color-run": r });
    color.addEventListener("input", () => app.setRunColor(r, color.value));
    const filtered = app.runFilter.test(r) ? "" : " filtered";
    return h("div", { class: "run-row" + filtered, "data-run-row": r },
      h("label", { class: "run" + filtered, "data-run": r, title: r }, cb, h("span", { class: "run-name" }, r)), color);
  });
  runsEl.replaceChildren(...rows);
  if (!rows.length) runsEl.append(h("div", { class: "muted" }, "no runs yet"));
  alertsUI.decorateRuns();
}

// Live alerts: NaN/Inf, thresholds and stalled runs, from what /ws pushes.
const monitor = new AlertMonitor(app);
const alertsUI = new AlertsUI(monitor, runsEl, (a) => {
  if (!a.tag) return;
  if (current?.def.id !== "scalars") {
    history.replaceState(null, "", "#scalars");
    showTab("scalars");
  }
  scrollToChart(a.tag).then((found) => {
    alertsUI.el.dataset.missing = found ? "" : a.tag;
    alertsUI.hint(found ? "" : `The chart of ${a.tag} is not shown: its run is switched off, or the run or tag filter hides it.`);
  });
});
root.append(alertsUI.el);
(window as any).tsvisLive.alerts = monitor;

let current: { def: TabDef; view: View } | null = null;
const emptyNote = h("div", { class: "empty-note", role: "status", hidden: true });

/** Tabs whose tags the tag filter narrows. */
const TAG_FILTERED = new Set(["scalars", "histograms", "distributions", "images", "audio", "text", "pr_curves", "meshes"]);

/** Why the tab would be blank, in a sentence that says where its data comes from; or null. */
function emptyReason(def: TabDef): string | null {
  const inRuns = (runs: string[]) => runs.filter((r) => def.kinds.some((k) => app.cat.get(r)?.get(k)?.size));
  const all = app.allRuns();
  if (!all.length) return `No runs in the log directory yet, so no ${def.what}: ${def.writers}.`;
  if (def.has) return def.has() ? null : `No ${def.what} in these runs yet; ${def.writers}.`;
  const having = inRuns(all);
  if (!having.length) return `No ${def.what} in these runs yet; ${def.writers}.`;
  if (!inRuns(app.activeRuns()).length) {
    return `No ${def.what} in the selected runs: ${having.length === 1 ? "the run" : `the ${having.length} runs`} with ${def.what} ${having.length === 1 ? "is" : "are"} switched off or hidden by the run filter.`;
  }
  if (TAG_FILTERED.has(def.id) && !def.kinds.some((k) => app.tags(k).length)) return `No ${def.what} tag matches the tag filter "${app.tagPattern}".`;
  return null;
}

function updateEmptyNote(): void {
  if (!current) return;
  const why = emptyReason(current.def);
  emptyNote.hidden = why === null;
  emptyNote.textContent = why ?? "";
  current.view.el.hidden = why !== null;
  main.dataset.empty = String(why !== null);
}

function renderTabs(): void {
  const cur = current?.def.id;
  tabsEl.replaceChildren(
    ...TABS.map((t) => {
      const has = t.has ? t.has() : t.kinds.some((k) => app.hasKind(k));
      return h("a", { class: "tab" + (t.id === cur ? " active" : "") + (has ? "" : " empty"), href: `#${t.id}`, "data-tab": t.id }, t.label);
    }),
  );
}

function showTab(id: string): void {
  const def = TABS.find((t) => t.id === id) || TABS.find((t) => t.kinds.some((k) => app.hasKind(k))) || TABS[0];
  if (current?.def === def) return;
  current?.view.destroy();
  current?.view.el.remove();
  const view = def.make(app);
  current = { def, view };
  main.replaceChildren(emptyNote, view.el);
  main.dataset.view = def.id;
  renderTabs();
  updateEmptyNote();
}

app.on((c: Change) => {
  if (c === "categories" || c === "runs") renderRuns();
  if (c === "colors") {
    // Not a re-render: that would close a colour picker the user is dragging in.
    repaintSwatches(document);
    for (const el of runsEl.querySelectorAll<HTMLInputElement>("input.run-color")) {
      const want = runColor(el.dataset.colorRun ?? "");
      if (el.value !== want) el.value = want;
    }
  }
  if (c === "categories") {
    renderTabs();
    if (!location.hash && current?.def.id === "scalars" && !app.hasKind("scalar")) showTab("");
  }
  current?.view.update(c);
  if (c !== "settings" && c !== "colors") updateEmptyNote();
});

window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));

async function boot(): Promise<void> {
  live.start();
  try {
    await getJSON("init", { id: params.get("id") || "tsvis-live", trainJobName: params.get("trainJobName") || "live" });
  } catch {
    /* --logdir mode serves the only session anyway */
  }
  await live.ready(2000);
  try {
    await app.refreshCategories();
  } catch (e) {
    main.append(h("div", { class: "error" }, `getCategory failed: ${e}`));
  }
  renderRuns();
  showTab(location.hash.slice(1));
  // Watch one series per run once the first charts have been served.
  window.setTimeout(() => monitor.start(), 1500);
  // Safety net besides `category` messages: re-read categories now and then, and on reconnect.
  window.setInterval(() => app.refreshCategories().catch(() => undefined), 15000);
  live.onState((s) => {
    if (s === "live" || s === "polling") app.refreshCategories().catch(() => undefined);
  });
  document.body.dataset.ready = "1";
}

boot();
