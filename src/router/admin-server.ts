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
  /** Puts a table in force; a supervised router's answers once every worker has it. */
  setRouteTable(table: RouteTable): void | Promise<unknown>;
  stats(query: StatsQuery): RevisionStats;
}

/** Route tables are small; a body larger than this is refused with 413 rather than buffered. */
export const MAX_ADMIN_BODY_BYTES = 8 * 1024 * 1024;

/** A request body the admin API refuses: too large (413). */
class BodyTooLarge extends Error {
  readonly code = 'BODY_TOO_LARGE';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** 413 with a JSON error, closing the connection: the rest of the body is not read. */
function sendTooLarge(res: http.ServerResponse, err: BodyTooLarge): void {
  res.shouldKeepAlive = false;
  sendJson(res, 413, { error: err.message, code: err.code });
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new BodyTooLarge(`request body exceeds ${MAX_ADMIN_BODY_BYTES} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > MAX_ADMIN_BODY_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_ADMIN_BODY_BYTES) {
        // Stop buffering; the 413 goes out and the connection closes (see sendTooLarge).
        req.off('data', onData);
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** What a caller without the token is told: that one is needed, how to send it, and where it is. */
const UNAUTHORIZED =
  'missing or wrong bearer token: a token is needed, sent as the header "authorization: Bearer TOKEN". Under `graylane up` it is the token file in the state directory (.graylane/token beside the App file): curl -H "authorization: Bearer $(cat .graylane/token)" URL; under `graylane router`, admin.token in its config.';

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
      return sendJson(res, 401, { error: UNAUTHORIZED });
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
      if (err instanceof BodyTooLarge) return sendTooLarge(res, err);
      return sendJson(res, 400, { error: `body is not JSON: ${(err as Error).message}` });
    }
    if (table === null || typeof table !== 'object' || Array.isArray(table)) {
      return sendJson(res, 400, { error: 'body must be a JSON object (a route table)', code: 'INVALID_ROUTE_TABLE' });
    }
    try {
      await opts.router.setRouteTable(table as RouteTable);
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
