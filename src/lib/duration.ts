/** Parses a document duration (`30s`, `5m`, `1h`, `250ms`, or a bare number of seconds) to ms. */
export function parseDurationMs(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`not a duration: ${value}`);
    return value * 1000;
  }
  const m = /^([0-9]+)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new RangeError(`not a duration: "${value}" (use 30s, 5m, 1h, 250ms or a number of seconds)`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return n;
    case 'm': return n * 60_000;
    case 'h': return n * 3_600_000;
    default: return n * 1000;
  }
}

/** Formats milliseconds compactly for people: `850ms`, `30s`, `5m`, `1h30m`. */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return '∞';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', s || (!h && !m) ? `${s}s` : ''].join('');
}
