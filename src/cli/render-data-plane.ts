/** The data plane line(s) `graylane status` prints under the services of a single host. */
import type { DataPlaneView } from '../api/contract/index.js';
import { formatDurationMs } from '../lib/duration.js';
import { clockTime } from './render.js';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Where the router runs and, with workers, which serve and the latest that died (local time). */
export function renderDataPlane(v: DataPlaneView): string {
  if (v.kind === 'in-daemon') return `data plane: the router inside the daemon at ${v.url} (it stops with the daemon: spec.router.workers 0)`;
  if (v.kind === 'nginx') return `data plane: nginx${v.nginxPid === undefined ? '' : ` (master pid ${v.nginxPid}${v.adopted ? ', adopted from an earlier daemon' : ''})`} at ${v.url}`;
  const workers = v.workers ?? [];
  const serving = workers.filter((w) => w.retiring !== true);
  const retiring = workers.length - serving.length;
  const head = v.problem !== undefined
    ? `data plane: router workers under supervisor pid ${v.supervisorPid ?? '?'} at ${v.url}; ${v.problem}`
    : `data plane: ${plural(serving.length, 'router worker', 'router workers')} (pid${serving.length === 1 ? '' : 's'} ${serving.map((w) => w.pid).join(', ') || '-'})${retiring > 0 ? ` and ${retiring} stopping` : ''} under supervisor pid ${v.supervisorPid ?? '?'} at ${v.url}${v.adopted ? ', adopted from an earlier daemon' : ''}`;
  const exits = v.workerExits;
  const latest = exits?.latest.at(-1);
  if (!exits || !latest) return head;
  const replaced = latest.replacedByPid === undefined ? 'not replaced yet' : `replaced by pid ${latest.replacedByPid} in ${Math.round(latest.replacedAfterMs ?? 0)} ms`;
  return `${head}\n  ${plural(exits.total, 'worker', 'workers')} died since the supervisor started; the latest, pid ${latest.pid}, exited (${latest.cause}) at ${clockTime(latest.atMs)} after ${formatDurationMs(latest.livedMs)}, ${replaced}`;
}
