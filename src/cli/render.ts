/** Text renderings of the shared view-model for the terminal. */
import type { InstanceView, ReleaseTrafficView, ServiceView } from '../controller/view-model.js';
import { noReadyInstanceSentence } from '../view/no-ready-instance.js';

const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 2)}%`;

/** Pads columns to their widest cell. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** One line per service, for `graylane get`. */
export function renderList(views: ServiceView[]): string {
  if (views.length === 0) return 'no services yet: apply an App file with `graylane apply -f graylane.yaml`';
  return table([
    ['NAME', 'STRATEGY', 'PHASE', 'STEP', 'WEIGHTS', 'READY', 'ROUTES', 'MESSAGE'],
    ...views.map((v) => [
      v.name,
      v.strategy,
      v.phase,
      stepOf(v) ?? '-',
      // A release lists every member's revisions: the member names which is which.
      v.revisions.map((r) => `${r.member ?? ''}#${r.number}:${r.weight}%`).join(' ') || '-',
      v.revisions.map((r) => `${r.ready}/${r.total}`).join(' ') || '-',
      v.routes?.map((r) => `${r.kind} ${r.name}`).join(', ') || '-',
      v.message,
    ]),
  ]);
}

/** `2/4` while a rollout is at a step; nothing between rollouts (step 0 is no step). */
function stepOf(v: ServiceView): string | undefined {
  return v.steps > 0 && v.step > 0 ? `${v.step}/${v.steps}` : undefined;
}

/** The live view of one service for `graylane status`. */
export function renderStatus(v: ServiceView): string {
  const step = stepOf(v);
  const head = `${v.name} (${v.kind === 'release' ? 'release, ' : ''}${v.strategy})  ${v.phase}${step ? `  step ${step}` : ''}`;
  const lines = [head, `  ${v.message}`];
  if (v.stateWrites) lines.push(`  warning: ${v.stateWrites.message} (since ${new Date(v.stateWrites.sinceMs).toISOString()})`);
  if (v.pauseReasons.length > 0 && !v.message.startsWith('paused')) lines.push(`  paused: ${v.pauseReasons.join(', ')}`);
  if (v.releaseTraffic) lines.push(`  ${renderReleaseTraffic(v.releaseTraffic)}`);
  const skew = renderSkew(v);
  if (skew) lines.push(`  ${skew}`);
  for (const r of v.routes ?? []) lines.push(`  route in force: ${r.description}`);
  if (v.revisions.length > 0) {
    const rows = [
      ['REVISION', 'ROLE', 'WEIGHT', 'READY', 'REQ/S', 'ERRORS', 'P99'],
      ...v.revisions.map((r) => [
        `#${r.number} ${r.name}`,
        r.role,
        `${r.weight}%`,
        `${r.ready}/${r.total}`,
        r.requestsPerSecond.toFixed(1),
        pct(r.errorRate),
        r.p99Ms === null ? '-' : `${r.p99Ms.toFixed(1)}ms`,
      ]),
    ];
    lines.push(table(rows).replace(/^/gm, '  '));
    for (const r of v.revisions) {
      for (const i of r.instances ?? []) {
        const line = renderInstance(i);
        if (line) lines.push(`  #${r.number} ${line}`);
      }
      const without = noReadyInstanceSentence(r);
      if (without) lines.push(`  ${without}`);
    }
  }
  for (const a of v.analysis) lines.push(`  analysis ${a.name}: ${a.phase}${a.message ? ` (${a.message})` : ''}`);
  return lines.join('\n');
}

/**
 * One line for an instance that is not simply ready ("… failed, 3 restarts, last exit: exited
 * with code 1, last probe: fail (GET /healthz returned HTTP 500)"), or undefined for a ready one
 * that never restarted: a failing canary explains itself where people look.
 */
export function renderInstance(i: InstanceView): string | undefined {
  if (i.state === 'ready' && i.restarts === 0) return undefined;
  const parts = [`${i.id} ${i.state}`, `${i.restarts} ${i.restarts === 1 ? 'restart' : 'restarts'}`];
  if (i.lastExit) parts.push(`last exit: ${i.lastExit}`);
  if (i.lastProbe && i.state !== 'ready') parts.push(`last probe: ${i.lastProbe.outcome === 'pending' ? 'nothing listens yet' : i.lastProbe.outcome} (${i.lastProbe.detail})`);
  const output = i.state === 'ready' ? undefined : lastOutputLine(i.lastError);
  if (output) parts.push(`last output: ${output}`);
  return parts.join(', ');
}

/** The app's last line of output, from an error that carries it ("…; last output:\n…"). */
function lastOutputLine(error: string | undefined): string | undefined {
  const at = error?.indexOf('last output:\n') ?? -1;
  if (error === undefined || at < 0) return undefined;
  return error.slice(at + 'last output:\n'.length).split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1);
}

/** A share of a count, e.g. `48.2% of 612 page loads`, or `no page loads`. */
function share(part: { stable: number; canary: number }, what: string): string {
  const total = part.stable + part.canary;
  return total === 0 ? `no ${what}` : `${((part.canary / total) * 100).toFixed(1)}% of ${total} ${what}`;
}

/** The canary's realized share beside the weight set, e.g. for `status shop`. */
export function renderReleaseTraffic(t: ReleaseTrafficView): string {
  return `canary served ${share(t.pageLoads, 'page loads')}, ${share(t.requests, 'requests')} in the last ${Math.round(t.windowMs / 1000)} s (weight ${t.weight}%)`;
}

/** A wall-clock time of day on this machine, `12:04:31`. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * A release's skew line, e.g. `skew errors caught: 2 in the last 30 s; old pages stay on stable
 * until 12:04:31`; either half alone when only it is known, undefined when neither is.
 */
export function renderSkew(v: Pick<ServiceView, 'releaseTraffic' | 'skewWindowEndsAtMs'>): string | undefined {
  const parts: string[] = [];
  const t = v.releaseTraffic;
  if (t?.skewErrors !== undefined) parts.push(`skew errors caught: ${t.skewErrors} in the last ${Math.round(t.windowMs / 1000)} s`);
  if (v.skewWindowEndsAtMs !== undefined) parts.push(`old pages stay on stable until ${clockTime(v.skewWindowEndsAtMs)}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}
