/**
 * The daemon's data plane when the App says `router.type: nginx`: nginx in the state directory (or
 * the user's nginx through an include file), driven through the same RouterControl port as the
 * built-in router.
 */
import { join } from 'node:path';
import type { RouterSettings } from '../../documents/schema.js';
import { startNginxRouterControl, type NginxRouterControl } from '../../router/control/nginx/nginx-control.js';
import { findLeftoverNginx } from '../../router/control/nginx/leftover-nginx.js';
import type { WorkerEvent } from '../../router/control/supervisor/protocol.js';
import { freePort } from '../../runtime/process/free-port.js';

/** A running nginx data plane. */
export interface NginxDataPlane {
  /** Its control. */
  control: NginxRouterControl;
  /** Where clients reach it. */
  url: string;
}


/** Where a managed nginx of the state directory `stateDir` keeps its configuration, pid and logs. */
export function nginxPrefixDir(stateDir: string): string {
  return join(stateDir, 'nginx');
}

/** Starts nginx (or prepares the include file) for the daemon; rejects with a `NginxRunError`. */
export async function startNginxDataPlane(options: {
  settings: RouterSettings; listen: { host: string; port: number }; stateDir: string; drainTimeoutMs: number;
  /** nginx's master exited, and the nginx started again serves; see NginxRouterControlOptions. */
  onWorkerEvent?: (event: WorkerEvent) => void;
  /** A start of nginx again that failed. */
  onProblem?: (message: string) => void;
}): Promise<NginxDataPlane> {
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const nginx = options.settings.nginx;
  const prefixDir = nginxPrefixDir(options.stateDir);
  // Port 0 takes any free port; the nginx an earlier daemon left serving on this host has one already.
  const leftoverPort = options.listen.port === 0 && !nginx ? portOf(findLeftoverNginx(prefixDir)?.record?.listen, host) : undefined;
  const port = options.listen.port !== 0 ? options.listen.port : leftoverPort ?? await freePort(options.listen.host);
  const control = await startNginxRouterControl({
    mode: nginx
      ? { type: 'include', includeFile: nginx.includeFile, reloadCommand: nginx.reloadCommand }
      : { type: 'managed', prefixDir, workers: options.settings.workers ?? 'auto', workerPriority: options.settings.workerPriority },
    listen: `${host}:${port}`,
    drainTimeoutMs: options.drainTimeoutMs,
    // One place for either nginx: the user's writes it as graylane's own would.
    accessLogFile: join(options.stateDir, 'nginx', 'access.log'),
    ...(options.onWorkerEvent !== undefined && { onWorkerEvent: options.onWorkerEvent }),
    ...(options.onProblem !== undefined && { onProblem: options.onProblem }),
  });
  return { control, url: `http://${host}:${port}` };
}

/** The port of a `host:port` listen address when its host is `host`. */
function portOf(listen: string | undefined, host: string): number | undefined {
  if (listen === undefined) return undefined;
  const cut = listen.lastIndexOf(':');
  return listen.slice(0, cut) === host ? Number(listen.slice(cut + 1)) : undefined;
}
