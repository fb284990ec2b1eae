/**
 * The router's admin API, on its own loopback listener. Every endpoint but `/healthz` requires
 * `Authorization: Bearer <token>`; `/metrics` too unless `metricsWithoutToken` is set, because
 * loopback is shared by every user and process on the host.
 *
 * - `GET /routes` → the route table; `PUT /routes` (JSON body) → replaces it (400 with issues).
 * - `GET /stats?service=&revision=&window=30s` → {@link RevisionStats}.
 * - `GET /metrics` → Prometheus text exposition.
 * - `GET /healthz` → `ok`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Registry } from 'prom-client';
import { parseDurationMs } from '../lib/duration.js';
import { RouterError } from './errors.js';
import type { AdminOptions, RevisionStats, RouteTable, StatsQuery } from './types.js';

/** What the admin API operates on. */
export interface AdminTarget {
  getRouteTable(): RouteTable;
  setRouteTable(table: RouteTable): void;
  stats(query: StatsQuery): RevisionStats;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RouterError('INVALID_ROUTE_TABLE', `request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Creates (does not bind) the admin server. */
export function startAdminServer(opts: { admin: AdminOptions; router: AdminTarget; registry: Registry }): http.Server {
  const expected = digest(`Bearer ${opts.admin.token}`);
  const authorized = (req: http.IncomingMessage) => timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    const known = path === '/routes' || path === '/stats' || path === '/metrics';
    if (!known) return sendJson(res, 404, { error: `no such endpoint: ${path}` });
    if (!(path === '/metrics' && opts.admin.metricsWithoutToken) && !authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendJson(res, 401, { error: 'missing or wrong bearer token' });
    }
    if (path === '/metrics') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET' });
      const text = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType });
      res.end(text);
      return;
    }
    if (path === '/stats') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET' });
      const service = url.searchParams.get('service');
      const revision = url.searchParams.get('revision');
      if (!service || !revision) return sendJson(res, 400, { error: 'service and revision are required query parameters' });
      let windowMs = 60_000;
      const w = url.searchParams.get('window');
      if (w !== null) {
        try {
          windowMs = parseDurationMs(w);
        } catch (err) {
          return sendJson(res, 400, { error: `window: ${(err as Error).message}` });
        }
      }
      return sendJson(res, 200, opts.router.stats({ service, revision, windowMs }));
    }
    if (req.method === 'GET') return sendJson(res, 200, opts.router.getRouteTable());
    if (req.method !== 'PUT') return sendJson(res, 405, { error: 'use GET or PUT' });
    let table: unknown;
    try {
      table = JSON.parse(await readBody(req));
    } catch (err) {
      return sendJson(res, 400, { error: err instanceof RouterError ? err.message : `body is not JSON: ${(err as Error).message}` });
    }
    try {
      opts.router.setRouteTable(table as RouteTable);
    } catch (err) {
      if (err instanceof RouterError) return sendJson(res, 400, { error: err.message, code: err.code, issues: err.issues });
      throw err;
    }
    return sendJson(res, 200, { ok: true });
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
}
