/** ECharts, tree-shaken to the charts the dashboard uses. */
import * as echarts from "echarts/core";
import { BarChart, BoxplotChart, CustomChart, HeatmapChart, LineChart, ParallelChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent, GridComponent, LegendComponent, ParallelComponent, TitleComponent, TooltipComponent, VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { visibility } from "./app";

echarts.use([
  LineChart, BarChart, BoxplotChart, CustomChart, HeatmapChart, ParallelChart, ScatterChart,
  GridComponent, TooltipComponent, VisualMapComponent, DataZoomComponent, ParallelComponent, LegendComponent, TitleComponent,
  CanvasRenderer,
]);

export { echarts };

/**
 * A chart box that initialises ECharts only once visible, resizes with its box and keeps the
 * latest option until it can be drawn.
 */
export class EChart {
  el: HTMLElement;
  chart: echarts.ECharts | null = null;
  private pending: any = null;
  private visible = false;
  private ro: ResizeObserver;
  private onInit: Array<(c: echarts.ECharts) => void> = [];

  constructor(height = 260, cls = "echart") {
    this.el = document.createElement("div");
    this.el.className = cls;
    this.el.style.height = `${height}px`;
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v) this.flush();
    });
    this.ro = new ResizeObserver(() => this.chart?.resize());
    this.ro.observe(this.el);
  }

  whenReady(f: (c: echarts.ECharts) => void): void {
    if (this.chart) f(this.chart);
    else this.onInit.push(f);
  }

  set(option: any): void {
    this.pending = option;
    if (this.visible) this.flush();
  }

  private flush(): void {
    if (!this.pending) return;
    if (!this.chart) {
      if (!this.el.isConnected || this.el.clientWidth === 0) {
        requestAnimationFrame(() => this.flush());
        return;
      }
      this.chart = echarts.init(this.el, undefined, { renderer: "canvas" });
      for (const f of this.onInit) f(this.chart);
      this.onInit = [];
    }
    this.chart.setOption(this.pending, { notMerge: true, lazyUpdate: false });
    this.pending = null;
    this.el.dataset.rendered = String(Date.now());
  }

  destroy(): void {
    visibility.unobserve(this.el);
    this.ro.disconnect();
    this.chart?.dispose();
    this.chart = null;
  }
}
