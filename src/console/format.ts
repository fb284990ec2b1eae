/**
 * How the console writes numbers for people: durations, percents, rates and latencies. Pure, so
 * every page says "1m 30s" and "0.4%" the same way (and the unit tests can hold it to that).
 */

/** A duration in words: `850ms`, `12s`, `1m 30s`, `2h 5m`; a whole minute or hour drops its zero part. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 10_000 && ms % 1_000 !== 0) return `${trim((ms / 1_000).toFixed(1))}s`;
  const totalS = Math.round(ms / 1_000);
  if (totalS < 60) return `${totalS}s`;
  const totalM = Math.floor(totalS / 60);
  const s = totalS % 60;
  if (totalM < 60) return s === 0 ? `${totalM}m` : `${totalM}m ${s}s`;
  const h = Math.floor(totalM / 60);
  const m = totalM % 60;
  return m === 0 ? `${h}h` : `${h}h ${m}m`;
}

/** A percentage already in 0..100: `20%`, `12.5%` (at most one decimal, none when whole). */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return '–';
  return `${trim(percent.toFixed(1))}%`;
}

/** A fraction in 0..1 as a percent with the precision an error rate needs: `0%`, `0.42%`, `3.1%`, `100%`. */
export function formatRate(fraction: number): string {
  if (!Number.isFinite(fraction)) return '–';
  const p = fraction * 100;
  if (p === 0) return '0%';
  if (p < 1) return `${trim(p.toFixed(2))}%`;
  return `${trim(p.toFixed(1))}%`;
}

/** Requests per second: `0`, `3.4`, `212`, `1.2k`. */
export function formatRps(rps: number): string {
  if (!Number.isFinite(rps) || rps <= 0) return '0';
  if (rps < 10) return trim(rps.toFixed(1));
  if (rps < 1_000) return String(Math.round(rps));
  return `${trim((rps / 1_000).toFixed(1))}k`;
}

/** A latency in ms, or a dash without traffic: `4.2 ms`, `120 ms`, `1.3 s`. */
export function formatLatency(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 10) return `${trim(ms.toFixed(1))} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return `${trim((ms / 1_000).toFixed(1))} s`;
}

/**
 * What is left of a rollout, from its plan: `done in 1m 30s – 2m`, `done in 45s` when both ends
 * agree, and `waits for a person` when its end is a person's decision (a null latest finish).
 */
export function formatEta(earliestMs: number | null, latestMs: number | null): string {
  if (earliestMs === null || latestMs === null) return 'waits for a person';
  const a = formatDuration(earliestMs);
  const b = formatDuration(latestMs);
  return a === b ? `done in ${a}` : `done in ${a} – ${b}`;
}

/** The time of day of an epoch ms, `14:03:27`, in the browser's zone (or the given one). */
export function formatClock(atMs: number, timeZone?: string): string {
  return new Date(atMs).toLocaleTimeString('en-GB', { hour12: false, ...(timeZone ? { timeZone } : {}) });
}

/** How long ago, from `nowMs`: `just now`, `12s ago`, `3m ago`, `2h ago`, `4d ago`. */
export function formatAgo(atMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - atMs) / 1_000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** The weights of a rollout's revisions in one line: `stable 80% · canary 20%`. */
export function formatWeights(revisions: readonly { role: string; weight: number }[]): string {
  return revisions.length === 0 ? 'no revisions' : revisions.map((r) => `${r.role} ${formatPercent(r.weight)}`).join(' · ');
}

/** `0.50` → `0.5`, `2.0` → `2`. */
function trim(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}
