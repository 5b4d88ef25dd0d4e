/**
 * Measuring a payload classifier on a labelled corpus: confusion matrix, accuracy, per-class precision and
 * recall, and a threshold sweep. Pure; the corpus evaluation test and docs/plaintext-inspection.md use it.
 */
import {
  type ClassifierMethod,
  type ClassifierThresholds,
  classifyPayload,
  DEFAULT_THRESHOLDS,
  type PayloadClass,
} from './payloadClass.js';

export const CLASSES: readonly PayloadClass[] = ['plaintext', 'compressed', 'encrypted'];

export interface LabelledPayload {
  cls: PayloadClass;
  data: Uint8Array;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  support: number;
}

export interface Evaluation {
  method: ClassifierMethod;
  prefix: number;
  n: number;
  accuracy: number;
  /** Mean of the per-class F1 scores (classes with support only). */
  macroF1: number;
  perClass: Record<PayloadClass, ClassMetrics>;
  /** confusion[truth][predicted] */
  confusion: Record<PayloadClass, Record<PayloadClass, number>>;
}

function emptyRow(): Record<PayloadClass, number> {
  return { plaintext: 0, compressed: 0, encrypted: 0 };
}

export function evaluate(
  samples: readonly LabelledPayload[],
  method: ClassifierMethod,
  prefix: number,
  t: ClassifierThresholds = DEFAULT_THRESHOLDS,
): Evaluation {
  const confusion = { plaintext: emptyRow(), compressed: emptyRow(), encrypted: emptyRow() };
  let ok = 0;
  for (const s of samples) {
    const p = classifyPayload(s.data, method, prefix, t).cls;
    confusion[s.cls][p]++;
    if (p === s.cls) ok++;
  }
  const perClass = {} as Record<PayloadClass, ClassMetrics>;
  let f1Sum = 0;
  let f1N = 0;
  for (const c of CLASSES) {
    const tp = confusion[c][c];
    let predicted = 0;
    for (const r of CLASSES) predicted += confusion[r][c];
    const support = CLASSES.reduce((a, p) => a + confusion[c][p], 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    perClass[c] = { precision, recall, support };
    if (support > 0) {
      f1Sum += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      f1N++;
    }
  }
  return {
    method,
    prefix,
    n: samples.length,
    accuracy: samples.length === 0 ? 0 : ok / samples.length,
    macroF1: f1N === 0 ? 0 : f1Sum / f1N,
    perClass,
    confusion,
  };
}

/** Which thresholds each method depends on, and the grid searched for each. */
export const THRESHOLD_GRID: Record<ClassifierMethod, Partial<Record<keyof ClassifierThresholds, number[]>>> = {
  ascii: { asciiMin: [0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 1] },
  entropy: {
    entropyText: [0.6, 0.65, 0.7, 0.75, 0.78, 0.8, 0.82, 0.85, 0.88],
    entropyRandom: [0.9, 0.93, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995, 1],
  },
  chi2: {
    chi2Text: [0.8, 1, 1.5, 2, 2.2, 2.5, 3, 4, 6],
    chi2RandomSd: [1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8],
  },
  combined: {
    textMin: [0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
    splitSd: [1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8],
  },
};

/**
 * Exhaustive search over the method's grid for the best mean accuracy over `prefixes` on `samples`
 * (ties: the earlier grid point).
 */
export function tune(
  samples: readonly LabelledPayload[],
  method: ClassifierMethod,
  prefixes: readonly number[],
  base: ClassifierThresholds = DEFAULT_THRESHOLDS,
): { thresholds: ClassifierThresholds; accuracy: number } {
  const grid = Object.entries(THRESHOLD_GRID[method]) as [keyof ClassifierThresholds, number[]][];
  let best: { thresholds: ClassifierThresholds; accuracy: number } | null = null;
  const rec = (i: number, t: ClassifierThresholds): void => {
    if (i === grid.length) {
      let acc = 0;
      for (const p of prefixes) acc += evaluate(samples, method, p, t).accuracy;
      acc /= prefixes.length;
      if (!best || acc > best.accuracy) best = { thresholds: { ...t }, accuracy: acc };
      return;
    }
    const [key, values] = grid[i]!;
    for (const v of values) rec(i + 1, { ...t, [key]: v });
  };
  rec(0, { ...base });
  return best!;
}

/** Split a corpus in two halves, alternating within each fine label (tuning half, held-out half). */
export function splitHalves<T extends { label: string }>(samples: readonly T[]): [T[], T[]] {
  const seen = new Map<string, number>();
  const a: T[] = [];
  const b: T[] = [];
  for (const s of samples) {
    const i = seen.get(s.label) ?? 0;
    seen.set(s.label, i + 1);
    (i % 2 === 0 ? a : b).push(s);
  }
  return [a, b];
}
