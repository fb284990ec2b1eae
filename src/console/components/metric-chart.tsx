import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SeriesSample, SeriesView } from '../../api/contract/console.js';

/** Which figure of a sample a chart draws. */
export type Metric = 'requestsPerSecond' | 'errorRate' | 'p99Ms';

const HEIGHT_PX = 150;

/** The line colour of a revision by its role (custom properties, so the dark scheme has its own). */
function colourOf(role: SeriesSample['role'] | undefined, index: number): string {
  const css = getComputedStyle(document.documentElement);
  const named = role === undefined ? '' : css.getPropertyValue(`--role-${role}`).trim();
  return named || css.getPropertyValue(`--series-${index % 4}`).trim() || '#888';
}

/** `14:03` of epoch seconds, in the browser's zone. */
function clock(s: number): string {
  const d = new Date(s * 1_000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** One figure of every revision over the last minutes, a line each, with its latest values in words for screen readers. */
export function MetricChart(props: {
  title: string;
  metric: Metric;
  series: SeriesView | undefined;
  format: (v: number | null) => string;
  /** `index` when several revisions share a role (a release's members): a colour each. */
  colourBy?: 'role' | 'index';
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<{ chart: uPlot; key: string } | null>(null);
  const { series, metric } = props;
  const byIndex = props.colourBy === 'index';

  const names: { name: string; role: SeriesSample['role'] }[] = [];
  for (const p of series?.points ?? []) for (const r of p.revisions) if (!names.some((n) => n.name === r.name)) names.push({ name: r.name, role: r.role });
  const key = `${props.colourBy ?? 'role'}|${names.map((n) => `${n.name}:${n.role}`).join(',')}`;
  const latest = series?.points.at(-1)?.revisions ?? [];

  useEffect(() => {
    const el = box.current;
    if (!el || !series) return;
    const data: uPlot.AlignedData = [
      series.points.map((p) => p.atMs / 1_000),
      ...names.map((n) => series.points.map((p) => {
        const s = p.revisions.find((r) => r.name === n.name);
        const v = s ? s[metric] : null;
        return v === null ? null : metric === 'errorRate' ? v * 100 : v;
      })),
    ];
    if (plot.current && plot.current.key === key) {
      plot.current.chart.setData(data);
      return;
    }
    plot.current?.chart.destroy();
    const css = getComputedStyle(document.documentElement);
    const axis = css.getPropertyValue('--muted').trim() || '#777';
    const grid = css.getPropertyValue('--grid').trim() || 'rgba(128,128,128,.15)';
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT_PX,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 24, space: 50, values: (_u, vals) => vals.map((v) => clock(v)) },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 44, values: (_u, vals) => vals.map((v) => (metric === 'errorRate' ? `${v}%` : String(v))) },
      ],
      series: [{}, ...names.map((n, i) => ({ label: n.name, stroke: byIndex ? colourOf(undefined, i) : colourOf(n.role, i), width: 2, points: { show: false } }))],
    };
    plot.current = { chart: new uPlot(opts, data, el), key };
  });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => plot.current?.chart.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT_PX }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.chart.destroy();
      plot.current = null;
    };
  }, []);

  return (
    <figure className="chart card" aria-label={props.title}>
      <figcaption>
        <span>{props.title}</span>
        <span className="legend" aria-hidden="true">
          {names.map((n, i) => <span key={n.name} className={`legend-item ${byIndex ? '' : `role-${n.role} `}series-${i % 4}`}>{n.role} {n.name}</span>)}
        </span>
      </figcaption>
      <div ref={box} className="chart-canvas" aria-hidden="true" />
      <p className="sr-only">
        {latest.length === 0 ? 'No figures yet.' : `Latest: ${latest.map((r) => `${r.role} ${r.name} ${props.format(r[metric])}`).join(', ')}.`}
      </p>
    </figure>
  );
}
