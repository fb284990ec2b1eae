/**
 * The daemon's data plane when the App says `router.type: nginx`: nginx in the state directory (or
 * the user's nginx through an include file), driven through the same RouterControl port as the
 * built-in router.
 */
import { join } from 'node:path';
import type { RouterSettings } from '../../documents/schema.js';
import { startNginxRouterControl, type NginxRouterControl } from '../../router/control/nginx/nginx-control.js';
import { freePort } from '../../runtime/process/free-port.js';

/** A running nginx data plane. */
export interface NginxDataPlane {
  /** Its control. */
  control: NginxRouterControl;
  /** Where clients reach it. */
  url: string;
}


/** Starts nginx (or prepares the include file) for the daemon; rejects with a `NginxRunError`. */
export async function startNginxDataPlane(options: { settings: RouterSettings; listen: { host: string; port: number }; stateDir: string; drainTimeoutMs: number }): Promise<NginxDataPlane> {
  const port = options.listen.port === 0 ? await freePort(options.listen.host) : options.listen.port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const nginx = options.settings.nginx;
  const control = await startNginxRouterControl({
    mode: nginx
      ? { type: 'include', includeFile: nginx.includeFile, reloadCommand: nginx.reloadCommand }
      : { type: 'managed', prefixDir: join(options.stateDir, 'nginx'), workers: options.settings.workers ?? 'auto', workerPriority: options.settings.workerPriority },
    listen: `${host}:${port}`,
    drainTimeoutMs: options.drainTimeoutMs,
    // One place for either nginx: the user's writes it as graylane's own would.
    accessLogFile: join(options.stateDir, 'nginx', 'access.log'),
  });
  return { control, url: `http://${host}:${port}` };
}
