/**
 * The admin listener of a supervised router, run by the daemon that drives it: the same endpoints
 * (`/routes`, `/stats`, `/metrics`, `/healthz`) and the same token as an in-process router's, read
 * from the figures the supervisor merged from its workers. It lives in the daemon rather than in
 * the supervisor because the token is the daemon's and the figures are there already.
 */
import type { AddressInfo } from 'node:net';
import { startAdminServer } from '../../admin-server.js';
import { createMetricsRegistry } from '../../metrics.js';
import type { AdminOptions } from '../../types.js';
import type { SupervisedRouter } from './supervisor-control.js';

/** A bound admin listener. */
export interface SupervisorAdmin {
  /** Its base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Closes it (connections included). */
  close(): Promise<void>;
}

/** Binds the admin listener of `control` on `admin.host:admin.port`; rejects when it cannot listen. */
export async function startSupervisorAdmin(options: { control: SupervisedRouter; admin: AdminOptions }): Promise<SupervisorAdmin> {
  const { control } = options;
  const server = startAdminServer({
    admin: options.admin,
    router: {
      getRouteTable: () => control.currentTable().table,
      setRouteTable: (table) => control.applyTable(table),
      stats: (query) => control.stats(query),
    },
    registry: createMetricsRegistry(control.metricsSource()),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.admin.port, options.admin.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
