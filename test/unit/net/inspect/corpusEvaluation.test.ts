/**
 * The measurement behind docs/plaintext-inspection.md: each method (naive ASCII, Shannon entropy,
 * chi-square, combined) on the labelled corpus at 64/256/1024-byte prefixes, thresholds tuned on one half of
 * the corpus and measured on the other. Floors are set from that measurement (a few points below it), so a
 * change that makes the classifier worse fails here.
 *
 * BANDGUARD_PRINT_TABLE=1 prints the markdown tables of the docs page.
 */
import { describe, expect, it } from 'vitest';
import { CLASSES, type Evaluation, evaluate, splitHalves, tune } from '../../../../src/net/inspect/evaluate.js';
import { type ClassifierMethod, DEFAULT_THRESHOLDS } from '../../../../src/net/inspect/payloadClass.js';
import { corpus } from '../../../fixtures/inspect/corpus.js';

const METHODS: ClassifierMethod[] = ['ascii', 'entropy', 'chi2', 'combined'];
const PREFIXES = [64, 256, 1024];
const all = corpus();
const [tuning, heldOut] = splitHalves(all);

/** Held-out accuracy floors per method and prefix (measured: see the docs table). */
const FLOOR: Record<ClassifierMethod, number[]> = {
  ascii: [0.72, 0.72, 0.72],
  entropy: [0.74, 0.75, 0.76],
  chi2: [0.71, 0.68, 0.71],
  combined: [0.91, 0.93, 0.96],
};

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

function row(e: Evaluation): string {
  const cells = CLASSES.map((c) => `${pct(e.perClass[c].precision)} / ${pct(e.perClass[c].recall)}`);
  return `| ${e.method} | ${e.prefix} | ${pct(e.accuracy)} | ${pct(e.macroF1)} | ${cells.join(' | ')} |`;
}

describe('payload classification on the labelled corpus', () => {
  it('the corpus has every class and label, a few hundred samples each', () => {
    const counts: Record<string, number> = {};
    for (const s of all) counts[s.cls] = (counts[s.cls] ?? 0) + 1;
    expect(counts.plaintext).toBeGreaterThan(300);
    expect(counts.compressed).toBeGreaterThan(200);
    expect(counts.encrypted).toBeGreaterThan(300);
    const labels = new Set(all.map((s) => s.label));
    for (const l of [
      'plaintext:http-get',
      'plaintext:json',
      'plaintext:xml',
      'plaintext:form',
      'plaintext:query',
      'plaintext:utf8-zh',
      'plaintext:base64',
      'compressed:gzip',
      'compressed:zlib',
      'compressed:deflate',
      'compressed:brotli',
      'compressed:png',
      'compressed:gif',
      'encrypted:tls',
      'encrypted:tls-body',
      'encrypted:quic',
    ]) {
      expect(labels, l).toContain(l);
    }
  });

  it('the shipped defaults are the thresholds tuned on the tuning half', () => {
    for (const m of METHODS) {
      const t = tune(tuning, m, PREFIXES);
      for (const [k, v] of Object.entries(t.thresholds)) {
        expect([m, k, DEFAULT_THRESHOLDS[k as keyof typeof DEFAULT_THRESHOLDS]]).toEqual([m, k, v]);
      }
    }
  });

  it('held-out accuracy of every method and prefix is at least its floor; combined is the best', () => {
    const lines: string[] = [];
    for (const m of METHODS) {
      PREFIXES.forEach((p, i) => {
        const e = evaluate(heldOut, m, p);
        lines.push(row(e));
        expect(e.accuracy, `${m} at ${p}`).toBeGreaterThanOrEqual(FLOOR[m][i]!);
      });
    }
    for (const p of PREFIXES) {
      const best = evaluate(heldOut, 'combined', p).accuracy;
      for (const m of ['ascii', 'entropy', 'chi2'] as const) {
        expect(best - evaluate(heldOut, m, p).accuracy, `combined vs ${m} at ${p}`).toBeGreaterThan(0.1);
      }
    }
    if (process.env.BANDGUARD_PRINT_TABLE) {
      console.log(
        `held-out ${heldOut.length} samples\n| method | prefix | accuracy | macro F1 | plaintext P / R | compressed P / R | encrypted P / R |\n|---|---|---|---|---|---|---|\n${lines.join('\n')}`,
      );
      const c = evaluate(heldOut, 'combined', 1024).confusion;
      console.log(JSON.stringify(c));
      const errs: Record<string, number> = {};
      for (const s of heldOut) {
        const e = evaluate([s], 'combined', 1024);
        if (e.accuracy < 1) errs[s.label] = (errs[s.label] ?? 0) + 1;
      }
      console.log(JSON.stringify(errs));
    }
  });

  it('plaintext is never called encrypted by the default method (a missed leak is the costly error)', () => {
    const e = evaluate(heldOut, 'combined', 1024);
    expect(e.confusion.plaintext.encrypted).toBe(0);
    expect(e.perClass.plaintext.recall).toBe(1);
  });
});
