/**
 * What `GET /v1/data-plane` and `graylane status` show of the single host's data plane: where the
 * router runs and, with router workers, each worker and the workers that died and what replaced them.
 */
import type { DataPlaneView } from '../../api/contract/index.js';
import type { SupervisorStatus } from '../../router/control/supervisor/protocol.js';

/** The view of a router supervisor from its `status` answer, or from the reason it gave none. */
export function supervisedView(options: { url: string; httpsUrl: string | undefined; pid: number; adopted: boolean; status: SupervisorStatus | { error: unknown } }): DataPlaneView {
  const base: DataPlaneView = { kind: 'workers', url: options.url, ...(options.httpsUrl !== undefined && { httpsUrl: options.httpsUrl }), supervisorPid: options.pid, adopted: options.adopted };
  if ('error' in options.status) return { ...base, problem: `the router supervisor did not say how its workers are: ${(options.status.error as Error).message ?? String(options.status.error)}` };
  const { workers, exits, exitsTotal } = options.status;
  return {
    ...base,
    workers: workers.map((w) => ({ pid: w.pid, startedAtMs: w.startedAtMs, requests: w.requests, ...(w.retiring && { retiring: true }) })),
    workerExits: {
      total: exitsTotal,
      latest: exits.map((e) => ({
        pid: e.pid, atMs: e.atMs, cause: e.cause, livedMs: e.livedMs,
        ...(e.replacedBy && { replacedByPid: e.replacedBy.pid, replacedAfterMs: e.replacedBy.afterMs }),
      })),
    },
  };
}
