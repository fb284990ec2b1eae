/**
 * What `graylane up` prints as its services get ready: the banner comes as soon as the router
 * listens, while the instances still start, and a request sent then gets a 503. Each service is
 * told once: ready (every instance of the revisions it routes to answers its probe), or still
 * waiting after a while, with the reason its instances give.
 */
import type { ServiceView } from '../controller/view-model.js';
import { ROUTE_PENDING_MESSAGE } from '../controller/local/views.js';

/** A service's readiness now: ready, waiting with the reason, or nothing to tell yet. */
export function readinessOf(v: ServiceView): { ready: true; instances: number } | { ready: false; readyCount: number; total: number; reason: string | undefined } | undefined {
  if (v.kind === 'release') return undefined;
  const serving = v.revisions.filter((r) => r.weight > 0);
  if (serving.length === 0) return undefined;
  const ready = serving.reduce((n, r) => n + r.ready, 0);
  const total = serving.reduce((n, r) => n + r.total, 0);
  // Ready to the router too: its route is in force (with workers, every worker has it).
  if (total > 0 && ready === total && v.message !== ROUTE_PENDING_MESSAGE) return { ready: true, instances: total };
  const instance = serving.flatMap((r) => r.instances).find((i) => i.state !== 'ready');
  const reason = instance?.lastError ?? (instance?.lastProbe && instance.lastProbe.outcome !== 'pass' ? instance.lastProbe.detail : undefined);
  return { ready: false, readyCount: ready, total, reason: reason?.split('\n')[0] };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Options of {@link ReadinessReport}. */
export interface ReadinessReportOptions {
  /** Prints one line. */
  print(line: string): void;
  /** When the daemon started, epoch ms. */
  startedAtMs: number;
  /** A service not ready this long after the start is told as waiting, once; default 20 s. */
  waitingAfterMs?: number;
}

/** See the module comment. Feed it views; it prints each service's line once. */
export class ReadinessReport {
  private readonly ready = new Set<string>();
  private readonly waiting = new Set<string>();

  constructor(private readonly options: ReadinessReportOptions) {}

  /** Looks at a view as of `nowMs`. */
  see(v: ServiceView, nowMs: number): void {
    if (this.ready.has(v.name)) return;
    const r = readinessOf(v);
    if (!r) return;
    const after = seconds(nowMs - this.options.startedAtMs);
    if (r.ready) {
      this.ready.add(v.name);
      this.waiting.delete(v.name);
      this.options.print(`  ready    ${v.name}: ${r.instances}/${r.instances} instance${r.instances === 1 ? '' : 's'} serving, ${after} after the start`);
      return;
    }
    if (this.waiting.has(v.name) || nowMs - this.options.startedAtMs < (this.options.waitingAfterMs ?? 20_000)) return;
    this.waiting.add(v.name);
    this.options.print(`  waiting  ${v.name}: ${r.readyCount}/${r.total} ready ${after} after the start${r.reason ? `: ${r.reason}` : ''} (graylane status ${v.name})`);
  }
}
