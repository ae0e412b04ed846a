/** PR / ROC curve points from `/api/getRoc` (unit-tested in test/prcurves.test.ts). */
import { num, nums } from "./data/numbers";

export interface PrStep {
  wall: number;
  step: number;
  thresholds: number[];
  tp: number[];
  fp: number[];
  tn: number[];
  fn: number[];
  precision: number[];
  recall: number[];
  tpr: number[];
  fpr: number[];
  aucPr: number;
  aucRoc: number;
}

/** The steps of one tag (`data[tag]` of getRoc), sorted by step. */
export function parseRoc(list: unknown): PrStep[] {
  if (!Array.isArray(list)) return [];
  return list
    .filter((e) => e && typeof e === "object")
    .map((e: any) => ({
      wall: num(e.wall_time), step: num(e.step), thresholds: nums(e.thresholds),
      tp: nums(e.tp), fp: nums(e.fp), tn: nums(e.tn), fn: nums(e.fn),
      precision: nums(e.precision), recall: nums(e.recall), tpr: nums(e.tpr), fpr: nums(e.fpr),
      aucPr: num(e.auc_pr), aucRoc: num(e.auc_roc),
    }))
    .sort((a, b) => a.step - b.step);
}

export type CurveKind = "pr" | "roc";

/**
 * Points [x, y, threshold index] in threshold order. PR: (recall, precision) where precision is
 * defined (something predicted positive): the writers store 0/0 as precision 0, which would
 * draw a false drop to (0, 0) at the highest thresholds (the API's AUC-PR skips them too).
 * ROC: (FPR, TPR), closed by (0, 0) as the AUC-ROC is (index -1 marks that anchor).
 */
export function curvePoints(p: PrStep, kind: CurveKind): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const n = p.thresholds.length;
  for (let i = 0; i < n; i++) {
    if (kind === "pr") {
      if (!(p.tp[i] + p.fp[i] > 0)) continue;
      out.push([p.recall[i], p.precision[i], i]);
    } else out.push([p.fpr[i], p.tpr[i], i]);
  }
  if (kind === "roc" && out.length) {
    const last = out[out.length - 1];
    if (last[0] !== 0 || last[1] !== 0) out.push([0, 0, -1]);
  }
  return out;
}
