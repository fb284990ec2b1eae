/**
 * The controller's probes and figures over plain `node:http`: `/healthz` and `/readyz` on the
 * health address (what the Deployment's liveness and readiness probes ask), `/metrics` on a
 * separate metrics address (what Prometheus scrapes; kept apart so that a NetworkPolicy can open
 * one and not the other).
 *
 * Readiness under leader election follows controller-runtime (and Argo Rollouts, built on it):
 * a replica standing by is ready. Readiness there means "this process works", not "this process
 * leads"; a standby that were unready would be dropped from Services and, during a rolling
 * update of the controller, would keep the old leader from being replaced.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControllerMetrics } from './controller-metrics.js';
import { parseListenAddress } from './listen-address.js';

/** What the probes ask of the controller. */
export interface HealthChecks {
  /** Undefined while the controller's loop is alive; else why it is not (the liveness probe then fails and the pod restarts). */
  notAlive(): string | undefined;
  /** Undefined when ready; else why not (e.g. `the ReplicaSet cache has not listed yet`). */
  notReady(): string | undefined;
}

/** Options of {@link HealthServer.start}. */
export interface HealthServerOptions {
  /** `host:port` of `/healthz` and `/readyz`. */
  healthAddr: string;
  /** `host:port` of `/metrics`. */
  metricsAddr: string;
  /** The probes' answers. */
  checks: HealthChecks;
  /** The figures `/metrics` serves. */
  metrics: ControllerMetrics;
}

/** A server could not listen (a port in use, an address not on this host). */
export class HealthServerError extends Error {
  /** Stable code for callers. */
  readonly code = 'HealthServerListen';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HealthServerError';
  }
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function listen(server: Server, addr: string, what: string): Promise<string> {
  const { host, port } = parseListenAddress(addr);
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => reject(new HealthServerError(`the ${what} server cannot listen on ${addr}: ${error.message}`, { cause: error }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The running health and metrics servers. */
export class HealthServer {
  private constructor(
    private readonly health: Server,
    private readonly metricsServer: Server,
    /** Base URL of the health server, e.g. `http://127.0.0.1:8081`. */
    readonly healthUrl: string,
    /** Base URL of the metrics server. */
    readonly metricsUrl: string,
  ) {}

  /** Starts both servers; if either cannot listen, neither is left running. */
  static async start(options: HealthServerOptions): Promise<HealthServer> {
    const { checks, metrics } = options;
    const health = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      const reason = path === '/healthz' ? checks.notAlive() : path === '/readyz' ? checks.notReady() : null;
      if (reason === null) return send(res, 404, 'not found\n');
      send(res, reason === undefined ? 200 : 503, reason === undefined ? 'ok\n' : `${reason}\n`);
    });
    const metricsServer = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') return send(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      metrics.text().then(
        (text) => send(res, 200, text, metrics.contentType),
        (error: unknown) => send(res, 500, `${(error as Error).message}\n`),
      );
    });
    try {
      const healthUrl = await listen(health, options.healthAddr, 'health');
      const metricsUrl = await listen(metricsServer, options.metricsAddr, 'metrics');
      return new HealthServer(health, metricsServer, healthUrl, metricsUrl);
    } catch (error) {
      await Promise.all([closeServer(health), closeServer(metricsServer)]);
      throw error;
    }
  }

  /** Stops both servers. */
  async close(): Promise<void> {
    await Promise.all([closeServer(this.health), closeServer(this.metricsServer)]);
  }
}
