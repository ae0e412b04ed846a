/**
 * What a scalar chart plots of its lines: uPlot's x and y columns with their series options
 * (smoothed line, faded raw line, downsampling band, margin band, dashed earlier writes), the
 * tooltip's lines, the non-finite markers, and the figures the card reports in data-*.
 */
import type uPlot from "uplot";
import type { Settings } from "../app";
import { runColor, withAlpha } from "../colors";
import type { Series } from "../data/series";
import { xValues } from "../data/xaxis";
import type { ChartLine } from "../layouts";
import type { LiveSeries } from "./liveseries";
import { markersOf, type Marker } from "./nonfinite";
import type { TipLine } from "./scalartip";

/** What plotLines needs of its chart. */
export interface LinesHost {
  settings: Settings;
  /** The loaded series of (run, tag), if any. */
  ser(run: string, tag: string | undefined): LiveSeries | undefined;
  /** The run's first wall time over the chart's series (relative time counts from it). */
  runStart(run: string): number | undefined;
  /** Draw the earlier writes of restarted runs. */
  pastOn: boolean;
  /** The older segments of (run, tag), smoothed (views/pastwrites.ts). */
  older(run: string, tag: string): Series[];
}

export interface PlotLines {
  /** x values and y columns of each drawn series, for alignSeries. */
  xs: number[][];
  ys: number[][][];
  series: uPlot.Series[];
  bands: uPlot.Band[];
  /** The y columns the outlier-free y domain is taken over. */
  domainCols: number[];
  tipLines: TipLine[];
  markers: Marker[];
  /** Last step per line id (data-last-steps). */
  lastSteps: Record<string, number>;
  /** Earlier-write segments drawn per line id (data-past-segments). */
  pastCounts: Record<string, number>;
  anyDown: boolean;
  shown: number;
  points: number;
}

/** The columns and series of `lines` whose series are loaded, in line order. */
export function plotLines(lines: readonly ChartLine[], host: LinesHost): PlotLines {
  const st = host.settings;
  const w = st.smoothing;
  const mode = st.xMode;
  const xs: number[][] = [];
  const ys: number[][][] = [];
  const seriesOpts: uPlot.Series[] = [{ label: mode }];
  const bands: uPlot.Band[] = [];
  const domainCols: number[] = [];
  const tipLines: TipLine[] = [];
  const markers: Marker[] = [];
  let col = 1;
  const logFix = (a: number[]) => (st.logY ? a.map((v) => (v > 0 ? v : NaN)) : a);
  const lastSteps: Record<string, number> = {};
  let anyDown = false, shown = 0, points = 0;
  const pastOn = host.pastOn;
  const pastCounts: Record<string, number> = {};
  const starts = new Map<string, number | undefined>();
  const startOf = (run: string) => {
    if (!starts.has(run)) starts.set(run, host.runStart(run));
    return starts.get(run);
  };
  for (const line of lines) {
    const rs = host.ser(line.run, line.tag);
    if (!rs) continue;
    shown++;
    points += rs.s.steps.length;
    const color = line.color ?? runColor(line.run);
    const xv = xValues(rs.s, mode, startOf(line.run));
    xs.push(xv);
    const cols: number[][] = [logFix(rs.s.smoothed)];
    domainCols.push(col);
    // Points are drawn only where the series is sparse (e.g. a single hparam metric).
    seriesOpts.push({ label: line.label, stroke: color, width: 1.5, dash: line.dash, spanGaps: true, points: { show: rs.s.steps.length < 30, size: 5, fill: color } });
    col++;
    if (w > 0) {
      cols.push(logFix(rs.s.values));
      seriesOpts.push({ label: `${line.label} (raw)`, stroke: withAlpha(color, 0.25), width: 1, dash: line.dash, spanGaps: true, points: { show: false } });
      col++;
    }
    if (rs.downsampled && rs.s.bandMin && rs.s.bandMax) {
      anyDown = true;
      cols.push(logFix(rs.s.bandMax), logFix(rs.s.bandMin));
      seriesOpts.push({ label: `${line.label} max`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
      seriesOpts.push({ label: `${line.label} min`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
      bands.push({ series: [col, col + 1], fill: withAlpha(color, 0.15) });
      col += 2;
    }
    ys.push(cols);
    const lo = host.ser(line.run, line.lower), hi = host.ser(line.run, line.upper);
    if (lo && hi) {
      for (const [b, name] of [[hi, "upper"], [lo, "lower"]] as const) {
        xs.push(xValues(b.s, mode, startOf(line.run)));
        ys.push([logFix(b.s.values)]);
        seriesOpts.push({ label: `${line.label} ${name}`, stroke: withAlpha(color, 0.45), width: 1, spanGaps: true, points: { show: false } });
        domainCols.push(col);
        col++;
      }
      bands.push({ series: [col - 2, col - 1], fill: withAlpha(color, 0.18) });
    }
    if (pastOn) {
      // The run's own past: each segment before a step went back, dashed and faded.
      const older = host.older(line.run, line.tag);
      older.forEach((seg, k) => {
        xs.push(xValues(seg, mode, startOf(line.run)));
        ys.push([logFix(seg.smoothed)]);
        seriesOpts.push({ label: `${line.label} (earlier write ${k + 1} of ${older.length + 1})`, stroke: withAlpha(color, 0.45), width: 1.25, dash: [5, 4], spanGaps: true, points: { show: false } });
        domainCols.push(col);
        col++;
      });
      if (older.length) pastCounts[line.id] = older.length;
    }
    tipLines.push({ id: line.id, label: line.label, run: line.run, color: line.color, s: rs.s, xv, runStart: startOf(line.run) });
    markers.push(...markersOf(rs.s, xv, color, line.id));
    const n = rs.s.steps.length;
    if (n) lastSteps[line.id] = rs.s.steps[n - 1];
  }
  return { xs, ys, series: seriesOpts, bands, domainCols, tipLines, markers, lastSteps, pastCounts, anyDown, shown, points };
}
