/**
 * The daemon's HTTP API: JSON over loopback, a bearer token (or the console's session cookie) on
 * everything but health and the OpenAPI document, server-sent events for live status, and the
 * console's files. A thin shell over a ControlPlane.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlPlaneError } from '../controller/control-plane.js';
import type { ApiBackend } from './api-backend.js';
import { isWriteFailure } from '../state/write-guard.js';
import {
  ApplyBodySchema, ENDPOINTS, SessionRequestSchema, HTTP_STATUS_OF, OPERATION_PATHS, contractIssues, describeIssue, isOperationPath, operationOf, precompile,
  type ApiErrorCode, type ApplyBody, type ErrorBody, type ServiceView,
} from './contract/index.js';
import { openApiDocument } from './openapi.js';
import { ApiRefusal, ConsoleAuth } from './console-auth.js';
import { ConsoleFiles } from './console-static.js';
import { setSecurityHeaders } from './security-headers.js';
import { SeriesRecorder } from './series-recorder.js';

/** Options of {@link startApiServer}. */
export interface ApiServerOptions {
  /** What answers the calls: the single host's controller, or a cluster (`graylane dashboard`). */
  backend: ApiBackend;
  /** Bearer token every client must present. */
  token: string;
  /** Loopback host to bind; anything else is refused. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** Version reported by /v1/health. */
  version?: string;
  /** Where the console's built files are; default the package's dist/console. */
  consoleDir?: string;
  /** Time between samples of the console's charts; default 1 s. */
  sampleIntervalMs?: number;
  /** Time the charts' samples are kept; default 10 min. */
  seriesWindowMs?: number;
  /** Clock of console sessions, sign-in throttling and samples; injectable for tests. */
  nowMs?: () => number;
}

/** What the server keeps beside its options. */
interface ServerParts {
  streams: Set<ServerResponse>;
  auth: ConsoleAuth;
  files: ConsoleFiles;
  series: SeriesRecorder;
}

/** A running API server. */
export interface ApiServer {
  /** Base URL, e.g. `http://127.0.0.1:4100`. */
  url: string;
  /** Stops accepting, ends event streams, resolves when closed. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Starts the API on loopback. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`the API listens on loopback only; "${host}" is not a loopback address`);
  precompile(ENDPOINTS.flatMap((e) => (e.body ? [e.body] : [])));
  const version = options.version ?? 'dev';
  const parts: ServerParts = {
    streams: new Set<ServerResponse>(),
    auth: new ConsoleAuth({ token: options.token, place: options.backend.place ?? 'single-host', version, nowMs: options.nowMs }),
    files: new ConsoleFiles(options.consoleDir),
    series: new SeriesRecorder({ backend: options.backend, sampleIntervalMs: options.sampleIntervalMs, windowMs: options.seriesWindowMs, nowMs: options.nowMs }),
  };
  const { streams } = parts;
  const server: Server = createServer((req, res) => {
    setSecurityHeaders(res);
    handle(options, req, res, parts).catch((err: unknown) => sendError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  parts.series.start();
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        parts.series.stop();
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: ApiServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  { streams, auth, files, series }: ServerParts,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const cp = options.backend;
  if (req.method === 'GET' && path === '/v1/health') return sendJson(res, 200, { ok: true, version: options.version ?? 'dev' });
  if (req.method === 'GET' && path === '/openapi.json') return sendJson(res, 200, openApiDocument(options.version ?? 'dev'));
  // The console's files and sign-in need no credential: the page is what a person signs in on.
  if (path !== '/v1' && !path.startsWith('/v1/')) {
    if (req.method === 'GET' || req.method === 'HEAD') return void (await files.serve(req, res, path));
  } else if (path === '/v1/session' || path === '/v1/session/end') {
    if (req.method === 'POST' && path === '/v1/session') {
      const body = checked<{ token: string }>(SessionRequestSchema, await readJson(req), 'sign in with {"token": "..."}: `graylane token` prints it');
      return sendJson(res, 200, auth.signIn(body.token, res));
    }
    if (req.method === 'GET' && path === '/v1/session') return sendJson(res, 200, auth.current(req, res));
    if (req.method === 'POST' && path === '/v1/session/end') {
      auth.end(req, res);
      return sendJson(res, 200, { ended: true });
    }
  }
  auth.authenticate(req, res);

  if (req.method === 'POST' && path === '/v1/apply') {
    if (!cp.apply) throw new ControlPlaneError('InvalidOperation', 'this server does not apply files: on a cluster, apply with kubectl');
    const body = checked<ApplyBody>(ApplyBodySchema, await readJson(req), 'apply needs {"text": "...", "file": "path/of/the/file"} and optionally "prune": true');
    return sendJson(res, 200, await cp.apply({ text: body.text, file: body.file, prune: body.prune === true }));
  }
  if (req.method === 'GET' && path === '/v1/services') return sendJson(res, 200, { services: await cp.list() });
  if (req.method === 'GET' && path === '/v1/data-plane') {
    if (!cp.dataPlane) throw new ControlPlaneError('NotFound', 'this server has no data plane of its own: on a cluster, traffic goes through Services, ingress-nginx, Istio or Gateway API');
    return sendJson(res, 200, await cp.dataPlane());
  }
  if (req.method === 'GET' && path === '/v1/events') {
    if ((req.headers.accept ?? '').includes('text/event-stream')) return streamEvents(cp, series, url, req, res, streams);
    const afterId = Number(url.searchParams.get('after') ?? 0);
    return sendJson(res, 200, { events: await cp.events({ service: url.searchParams.get('service') ?? undefined, afterId }) });
  }

  const m = /^\/v1\/services\/([a-z0-9-]+)(?:\/([a-z-]+))?$/.exec(path);
  if (m) {
    const name = m[1]!;
    const sub = m[2];
    if (req.method === 'GET' && sub === undefined) return sendJson(res, 200, await cp.get(name));
    if (req.method === 'GET' && sub === 'history') return sendJson(res, 200, { revisions: await cp.history(name, { showEnv: url.searchParams.get('showEnv') === 'true' }) });
    if (req.method === 'GET' && sub === 'analysis') return sendJson(res, 200, { runs: await cp.analysis(name) });
    if (req.method === 'GET' && sub === 'logs') return streamLogs(cp, name, url, res);
    if (req.method === 'GET' && sub === 'series') return sendJson(res, 200, await series.series(name));
    if (req.method === 'GET' && sub === 'plan') {
      if (!cp.plan) throw new ControlPlaneError('NotFound', `this server has no plan for ${name}: \`graylane plan\` shows it from the rollout's file`);
      return sendJson(res, 200, await cp.plan(name));
    }
    if (req.method === 'POST' && sub !== undefined) {
      if (!isOperationPath(sub)) {
        throw new ControlPlaneError('NotFound', `unknown operation "${sub}"; known: ${Object.keys(OPERATION_PATHS).join(', ')}`);
      }
      const body = checked<{ full?: boolean; toRevision?: number; percent?: number; expectedVersion?: number }>(OPERATION_PATHS[sub].body, await readJson(req), usage[sub]);
      return sendJson(res, 200, await cp.operate(name, operationOf(sub, body), { expectedVersion: expectedVersion(req, body) }));
    }
  }
  return sendJson(res, 404, { error: { code: 'NotFound', message: `no such endpoint: ${req.method} ${path}; see /openapi.json` } });
}

/** What each operation's body should be, said after the field at fault. */
const usage: Record<keyof typeof OPERATION_PATHS, string> = {
  promote: 'promote takes {"full": true|false}',
  pause: 'pause takes no arguments',
  resume: 'resume takes no arguments',
  abort: 'abort takes no arguments',
  retry: 'retry takes no arguments',
  restart: 'restart takes no arguments',
  undo: 'undo takes {"toRevision": N} with N a revision number such as 2, or nothing',
  weight: 'weight needs {"percent": N} with N a whole number from 0 to 100',
  'header-route': 'header-route takes {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}]} (or cookieName/cookieValue); without "match" it removes the route',
  'mirror-route': 'mirror-route takes {"name": "shadow", "percentage": 1-100, "match": [{"path": {"prefix": "/"}}]}; without "match" it removes the route',
};

/** The body if it matches the contract's schema; otherwise a 400 naming the field and the reason. */
function checked<T>(schema: Parameters<typeof contractIssues>[0], body: unknown, hint: string): T {
  const [first] = contractIssues(schema, body);
  if (first) throw new ApiServerError('BadRequest', `${describeIssue(first)}: ${hint} (and optionally "expectedVersion")`, first.path);
  return body as T;
}

/** The status version an operation was decided on: `expectedVersion` in the body, or `If-Match`. */
function expectedVersion(req: IncomingMessage, body: { expectedVersion?: number }): number | undefined {
  // The body's was checked against the contract; the header is text.
  if (body.expectedVersion !== undefined) return body.expectedVersion;
  const header = req.headers['if-match'];
  if (header === undefined) return undefined;
  const raw = header.replace(/^W\//, '').replace(/"/g, '').trim();
  if (!/^[0-9]+$/.test(raw)) throw badRequest('expectedVersion (or If-Match) must be the status version, a whole number such as 7');
  return Number(raw);
}

/** A request the server refuses itself, before the controller sees it. */
class ApiServerError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** Of a BadRequest: the JSON pointer of the body's field at fault. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiServerError';
  }
}
const badRequest = (message: string) => new ApiServerError('BadRequest', message);

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw badRequest(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw badRequest('request body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const send = (code: ApiErrorCode, error: ErrorBody['error']) => sendJson(res, HTTP_STATUS_OF[code], { error });
  if (err instanceof ControlPlaneError) return send(err.code, { code: err.code, message: err.message, details: err.details });
  if (err instanceof ApiRefusal) {
    if (err.retryAfterSeconds !== undefined && !res.headersSent) res.setHeader('retry-after', String(err.retryAfterSeconds));
    return send(err.code, { code: err.code, message: err.message });
  }
  if (err instanceof ApiServerError) return send(err.code, { code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) });
  // Nothing was changed: the daemon could not record it. It is worth trying again later.
  if (isWriteFailure(err)) return send(err.code === 'StateDirFull' ? 'StateDirFull' : 'StateWriteFailed', { code: err.code, message: err.message });
  const message = err instanceof Error ? err.message : String(err);
  send('Internal', { code: 'Internal', message });
}

async function streamEvents(cp: ApiBackend, series: SeriesRecorder, url: URL, req: IncomingMessage, res: ServerResponse, streams: Set<ServerResponse>): Promise<void> {
  const service = url.searchParams.get('service') ?? undefined;
  // Read before the 200: a failing backend answers an error, not an empty stream.
  const after = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? -1);
  const backlog = after >= 0 ? await cp.events({ service, afterId: after }) : [];
  const views = await cp.list();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  streams.add(res);
  const write = (type: string, data: unknown, id?: number) =>
    res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  // The last view sent of each name: a sample sends only what moved since.
  const sent = new Map<string, string>();
  const writeView = (v: ServiceView) => {
    if (service && v.name !== service) return;
    const text = JSON.stringify(v);
    if (sent.get(v.name) === text) return;
    sent.set(v.name, text);
    res.write(`event: status\ndata: ${text}\n\n`);
  };
  // Resume after the last event the client saw, then send the current views so it starts whole.
  for (const e of backlog) write('event', e, e.id);
  for (const v of views) writeView(v);
  const unsubscribe = cp.subscribe((change) => {
    if (change.event && (!service || change.event.service === service)) write('event', change.event, change.event.id);
    if (change.view) writeView(change.view);
  });
  // A controller tells of state changes; the live figures (requests, errors, latency) move between
  // them, so each sample's views go out too, when they changed.
  const unsample = series.onSample((all) => all.forEach(writeView));
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
    unsample();
    streams.delete(res);
  });
}

/** Pending log text is written once it reaches this size, or after {@link LOG_FLUSH_MS} of quiet. */
const LOG_BATCH_BYTES = 64 * 1024;
const LOG_FLUSH_MS = 20;

function logQuery(url: URL): { tailLines?: number; sinceMs?: number } {
  const tail = url.searchParams.get('tail');
  const since = url.searchParams.get('since');
  const query: { tailLines?: number; sinceMs?: number } = {};
  if (tail !== null) {
    if (!/^[0-9]+$/.test(tail)) throw badRequest(`tail must be a number of lines such as 100, not "${tail}"`);
    query.tailLines = Number(tail);
  }
  if (since !== null) {
    const ms = /^[0-9]+$/.test(since) ? Number(since) : Date.parse(since);
    if (!Number.isFinite(ms)) throw badRequest(`since must be a time (epoch milliseconds or RFC 3339 such as 2024-05-01T10:00:00Z), not "${since}"`);
    query.sinceMs = ms;
  }
  return query;
}

/** Resolves when the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams log lines in batches, waiting for the client to take each (the daemon's memory holds a
 * batch, not a log). A failure after the 200 destroys the response, so the client sees a truncated
 * body (an error), never a short reply that looks complete.
 */
async function streamLogs(cp: ApiBackend, service: string, url: URL, res: ServerResponse): Promise<void> {
  const query = logQuery(url);
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const follow = url.searchParams.get('follow') === '1';
  const revision = url.searchParams.get('revision') ?? undefined;
  if (!cp.logs) throw new ControlPlaneError('InvalidOperation', 'this server does not read logs: on a cluster, use kubectl logs');
  const lines = cp.logs({ service, revision, follow, ...query, signal: controller.signal });
  let started = false;
  let pending: string[] = [];
  let pendingBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): boolean => {
    clearTimeout(timer);
    timer = undefined;
    if (follow) start();
    if (pending.length === 0 || res.destroyed) return true;
    const text = pending.join('');
    pending = [];
    pendingBytes = 0;
    return res.write(text);
  };
  function start(): void {
    if (started) return;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    // A follow may wait long for its first line: the client learns at once that it is connected.
    if (follow) res.flushHeaders();
    started = true;
  }
  // An unknown service fails at the first line, well before this; a quiet one is answered 200 now.
  if (follow) timer = setTimeout(flush, LOG_FLUSH_MS);
  try {
    for await (const line of lines) {
      start();
      pending.push(`${line}\n`);
      pendingBytes += line.length + 1;
      if (pendingBytes >= LOG_BATCH_BYTES) {
        if (!flush()) await drained(res);
        if (res.destroyed) break;
      } else {
        // A follow waits between lines: what is pending goes out without waiting for a full batch.
        timer ??= setTimeout(flush, LOG_FLUSH_MS);
      }
    }
  } catch (err) {
    clearTimeout(timer);
    if (!started) throw err;
    // What was read goes out first (a destroy would discard it), then the cut the client sees as an error.
    const text = pending.join('');
    pending = [];
    if (!res.destroyed) await new Promise<void>((resolve) => res.write(text, () => resolve()));
    res.destroy(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  start();
  flush();
  res.end();
}
