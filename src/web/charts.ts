/**
 * Charts with uPlot (loaded as /vendor/uplot/uPlot.iife.min.js, the global `uPlot`): time series of a
 * band's samples — bars for counts per hour or day (steps), lines for measurements (heart rate, blood
 * pressure, weight, glucose), steps for coded states (sleep). Charts follow their container's width.
 */
import type uPlotT from 'uplot';

type UPlot = typeof uPlotT;

function lib(): UPlot | null {
  return (globalThis as unknown as { uPlot?: UPlot }).uPlot ?? null;
}

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

export interface ChartSpec {
  /** Epoch seconds. */
  xs: number[];
  series: Series[];
  unit: string;
  style: 'line' | 'bars' | 'steps';
  height?: number;
}

export function chart(container: HTMLElement, spec: ChartSpec): () => void {
  const U = lib();
  if (!U) {
    container.textContent = 'Charts are unavailable (uPlot did not load).';
    return () => {};
  }
  const width = () => Math.max(240, container.clientWidth || 320);
  const paths =
    spec.style === 'bars'
      ? U.paths.bars?.({ size: [0.7, 40] })
      : spec.style === 'steps'
        ? U.paths.stepped?.({ align: 1 })
        : undefined;
  const opts: uPlotT.Options = {
    width: width(),
    height: spec.height ?? 200,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: {
      x: { time: true },
      // Counts start at zero; measurements use their own range.
      ...(spec.style === 'bars'
        ? {
            y: { range: (_u: uPlotT, _min: number, max: number): uPlotT.Range.MinMax => [0, max > 0 ? max * 1.08 : 1] },
          }
        : {}),
    },
    axes: [
      { stroke: '#8a94a6', grid: { stroke: 'rgba(138,148,166,0.15)' } },
      {
        stroke: '#8a94a6',
        grid: { stroke: 'rgba(138,148,166,0.15)' },
        size: 52,
        values: (_u, ticks) => ticks.map((t) => `${Number.isInteger(t) ? t : t.toFixed(1)}`),
        label: spec.unit,
        labelSize: 14,
      },
    ],
    series: [
      {},
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: spec.style === 'bars' ? 0 : 2,
        fill: spec.style === 'bars' ? s.color : `${s.color}22`,
        points: { show: spec.xs.length < 60 },
        spanGaps: spec.style !== 'bars',
        ...(paths ? { paths } : {}),
        value: (_u: uPlotT, v: number | null) => (v === null ? '—' : `${Math.round(v * 10) / 10} ${spec.unit}`),
      })),
    ],
  };
  const plot = new U(opts, [spec.xs, ...spec.series.map((s) => s.values)] as uPlotT.AlignedData, container);
  const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: spec.height ?? 200 }));
  ro.observe(container);
  return () => {
    ro.disconnect();
    plot.destroy();
  };
}

/** Sums values into buckets of `bucketMs` (counts such as steps). */
export function sumBuckets(points: { ts: number; value: number }[], bucketMs: number): { xs: number[]; ys: number[] } {
  const m = new Map<number, number>();
  for (const p of points) {
    const b = Math.floor(p.ts / bucketMs) * bucketMs;
    m.set(b, (m.get(b) ?? 0) + p.value);
  }
  const keys = [...m.keys()].sort((a, b) => a - b);
  return { xs: keys.map((k) => k / 1000), ys: keys.map((k) => m.get(k)!) };
}

/** Averages into buckets when there are more points than `max` (measurements such as heart rate). */
export function thin(points: { ts: number; value: number }[], max: number): { xs: number[]; ys: number[] } {
  if (points.length <= max) return { xs: points.map((p) => p.ts / 1000), ys: points.map((p) => p.value) };
  const span = points[points.length - 1]!.ts - points[0]!.ts;
  const bucket = Math.max(1, Math.ceil(span / max));
  const m = new Map<number, [number, number]>();
  for (const p of points) {
    const b = Math.floor(p.ts / bucket) * bucket;
    const a = m.get(b) ?? [0, 0];
    a[0] += p.value;
    a[1]++;
    m.set(b, a);
  }
  const keys = [...m.keys()].sort((a, b) => a - b);
  return { xs: keys.map((k) => k / 1000), ys: keys.map((k) => m.get(k)![0] / m.get(k)![1]) };
}

/** Aligns several series on the union of their x values (uPlot needs one x array). */
export function align(...sets: { xs: number[]; ys: number[] }[]): { xs: number[]; values: (number | null)[][] } {
  const all = [...new Set(sets.flatMap((s) => s.xs))].sort((a, b) => a - b);
  const index = new Map(all.map((x, i) => [x, i]));
  const values = sets.map((s) => {
    const v: (number | null)[] = new Array(all.length).fill(null);
    s.xs.forEach((x, i) => {
      v[index.get(x)!] = s.ys[i]!;
    });
    return v;
  });
  return { xs: all, values };
}
