import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { ControlPlaneError, type ControlPlane, type EventView, type Operation, type OperateOptions } from '../controller/control-plane.js';
import { StoreError } from '../state/store.js';
import { buildRolloutView, type ServiceView } from '../view/index.js';
import { planRollout } from '../engine/index.js';
import { planViewOf } from '../view/plan-view.js';
import { ApiClient, ApiError } from './client.js';
import { startApiServer, type ApiServer } from './server.js';
import type { DataPlaneView } from './contract/index.js';


/** A view as the local controller builds it: a canary at 25%. */
function canaryView(name = 'api'): ServiceView {
  return buildRolloutView({
    name,
    static: false,
    spec: { strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: {} }] } } },
    status: { phase: 'Paused', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 1, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }], message: 'paused: promote to go on' } as never,
    traffic: { stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 25, headerRoutes: [], mirrorRoutes: [] },
    revisions: [{ name: 'aaa', number: 1, instances: [{ id: 'api-aaa-1', state: 'ready', restarts: 0 }] }, { name: 'bbb', number: 2, instances: [{ id: 'api-bbb-1', state: 'failed', restarts: 2, lastExit: 'exited with code 1', lastExitAtMs: 5 }] }],
    stats: { bbb: { requestsPerSecond: 3, errorRate: 0.5, p99Ms: 12, fallbacks: 0, unreadyServed: 0 } },
    guard: { verdict: 'Inconclusive', reason: 'too few requests' },
    version: 7,
  });
}

/** A fake control plane; `failWith` makes the next operate throw that error. */
class FakeControlPlane implements ControlPlane {
  /** Operations received, in order. */
  readonly operations: { name: string; operation: Operation; options: OperateOptions | undefined }[] = [];
  /** Applies received. */
  readonly applies: { text: string; file: string; prune?: boolean }[] = [];
  /** The error the next operate throws. */
  failWith: Error | undefined;
  private listeners: ((change: { event?: EventView; view?: ServiceView }) => void)[] = [];
  private readonly eventLog: EventView[] = [{ id: 1, service: 'api', atMs: 10, level: 'info', reason: 'RolloutStarted', message: 'rollout of api to bbb started' }];

  apply(input: { text: string; file: string; prune?: boolean }): Promise<{ services: { name: string; revision: string; revisionNumber: number; change: 'updated' }[]; warnings: string[]; removed: string[] }> {
    this.applies.push(input);
    return Promise.resolve({ services: [{ name: 'api', revision: 'bbb', revisionNumber: 2, change: 'updated' }], warnings: [], removed: [] });
  }
  list(): ServiceView[] { return [canaryView()]; }
  dataPlane?: () => Promise<DataPlaneView> = () => Promise.resolve({
    kind: 'workers', url: 'http://127.0.0.1:8080', supervisorPid: 10, adopted: false,
    workers: [{ pid: 12, startedAtMs: 5, requests: 40 }],
    workerExits: { total: 1, latest: [{ pid: 11, atMs: 4, cause: 'SIGKILL', livedMs: 3, replacedByPid: 12, replacedAfterMs: 1 }] },
  });
  plan(name: string): ReturnType<typeof planViewOf> {
    this.get(name);
    return planViewOf(planRollout({ spec: { strategy: { canary: { steps: [{ setWeight: 25 }, { pause: {} }] } } } }), { step: 2, terminal: false });
  }
  get(name: string): ServiceView {
    if (name !== 'api') throw new ControlPlaneError('NotFound', `no service "${name}"; services: api`);
    return canaryView();
  }
  operate(name: string, operation: Operation, options?: OperateOptions): Promise<ServiceView> {
    this.operations.push({ name, operation, options });
    const err = this.failWith;
    this.failWith = undefined;
    return err ? Promise.reject(err) : Promise.resolve(this.get(name));
  }
  history(): { number: number; name: string; createdAtMs: number; role: 'stable' | 'canary'; summary: string }[] {
    return [{ number: 2, name: 'bbb', createdAtMs: 2, role: 'canary', summary: 'node server.js  PORT=***' }, { number: 1, name: 'aaa', createdAtMs: 1, role: 'stable', summary: 'node server.js' }];
  }
  analysis(): ReturnType<ControlPlane['analysis']> {
    return [{ id: 'r1', name: 'step-1', phase: 'Successful', startedAtMs: 1, metrics: [{ name: 'errors', phase: 'Successful', measurements: [{ atMs: 2, phase: 'Successful', value: 0 }] }] }];
  }
  events(options: { afterId?: number } = {}): EventView[] { return this.eventLog.filter((e) => e.id > (options.afterId ?? 0)); }
  subscribe(listener: (change: { event?: EventView; view?: ServiceView }) => void): () => void {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }
  /** Sends a change to every subscriber, as the controller does. */
  emit(change: { event?: EventView; view?: ServiceView }): void { for (const l of this.listeners) l(change); }
  /** How many subscribers listen now. */
  get subscribers(): number { return this.listeners.length; }
  async *logs(): AsyncIterable<string> {
    await Promise.resolve();
    yield 'api-bbb-1 | listening on 8080';
  }
}

const TOKEN = 'secret-token-for-tests';
/** A decoded answer: an error body, or a success whose fields the tests read loosely. */
type Answer = { error: { code: string; message: string; details?: string[]; field?: string } } & Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>; components: { schemas: { Error: object } } };

let cp: FakeControlPlane;
let server: ApiServer;
let doc: Doc;
const ajv = new Ajv({ strict: false, allErrors: true });
// The document is the same for every server of the file: each schema is compiled once.
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : { text }) as Answer };
}

/** The errors of an answer against the served document's schema for that endpoint and status. */
function schemaErrors(method: string, path: string, status: number, json: unknown): unknown {
  const key = status === 200 ? `${method} ${path}` : 'error';
  const schema = status === 200 ? doc.paths[path]![method]!.responses['200']!.content!['application/json']!.schema! : doc.components.schemas.Error;
  const validate = compiled.get(key) ?? ajv.compile(schema);
  compiled.set(key, validate);
  return validate(json) ? null : validate.errors;
}

beforeEach(async () => {
  cp = new FakeControlPlane();
  server = await startApiServer({ backend: cp, token: TOKEN, version: '1.2.3' });
  doc = (await call('GET', '/openapi.json')).json as unknown as Doc;
});
afterEach(() => server.close());

describe('the API server', () => {
  const rows: [string, string, string, unknown][] = [
    ['get', '/v1/health', '/v1/health', undefined],
    ['post', '/v1/apply', '/v1/apply', { text: 'kind: App', file: 'graylane.yaml' }],
    ['get', '/v1/services', '/v1/services', undefined],
    ['get', '/v1/data-plane', '/v1/data-plane', undefined],
    ['get', '/v1/services/{name}', '/v1/services/api', undefined],
    ['get', '/v1/services/{name}/history', '/v1/services/api/history', undefined],
    ['get', '/v1/services/{name}/analysis', '/v1/services/api/analysis', undefined],
    ['get', '/v1/events', '/v1/events', undefined],
    ['post', '/v1/services/{name}/promote', '/v1/services/api/promote', { full: true }],
    ['post', '/v1/services/{name}/pause', '/v1/services/api/pause', {}],
    ['post', '/v1/services/{name}/resume', '/v1/services/api/resume', {}],
    ['post', '/v1/services/{name}/abort', '/v1/services/api/abort', { expectedVersion: 7 }],
    ['post', '/v1/services/{name}/retry', '/v1/services/api/retry', undefined],
    ['post', '/v1/services/{name}/undo', '/v1/services/api/undo', { toRevision: 1 }],
    ['post', '/v1/services/{name}/weight', '/v1/services/api/weight', { percent: 40 }],
    ['post', '/v1/services/{name}/restart', '/v1/services/api/restart', {}],
    ['post', '/v1/services/{name}/header-route', '/v1/services/api/header-route', { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] }],
    ['post', '/v1/services/{name}/mirror-route', '/v1/services/api/mirror-route', { name: 'shadow' }],
    ['get', '/v1/services/{name}/series', '/v1/services/api/series', undefined],
    ['get', '/v1/services/{name}/plan', '/v1/services/api/plan', undefined],
  ];
  it.each(rows)('%s %s answers what the OpenAPI document says', async (method, template, path, body) => {
    const { status, json } = await call(method.toUpperCase(), path, body);
    expect(status).toBe(200);
    expect(schemaErrors(method, template, status, json)).toBeNull();
  });

  it('documents every endpoint it serves, each with a response schema', () => {
    // The console's session endpoints are exercised in console-session.test.ts (they need a cookie).
    const session = ['/v1/session', '/v1/session/end'];
    expect(Object.keys(doc.paths).sort()).toEqual([...new Set(rows.map((r) => r[1])), '/v1/services/{name}/logs', ...session].sort());
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const op of Object.values(methods)) expect(Object.values(op.responses['200']!.content!)[0], path).toHaveProperty('schema');
    }
  });

  it('turns each operation body into the one operation vocabulary, with the version it was decided on', async () => {
    await call('POST', '/v1/services/api/promote', { full: true });
    await call('POST', '/v1/services/api/undo', { toRevision: 1, expectedVersion: 7 });
    await call('POST', '/v1/services/api/weight', { percent: 40 });
    await call('POST', '/v1/services/api/abort', undefined, { authorization: `Bearer ${TOKEN}`, 'if-match': '"7"' });
    await call('POST', '/v1/services/api/header-route', { name: 'beta', match: [{ cookieName: 'beta', cookieValue: { exact: 'yes' } }] });
    await call('POST', '/v1/services/api/mirror-route', { name: 'shadow', percentage: 10, match: [{ path: { prefix: '/api' }, method: { exact: 'GET' } }], expectedVersion: 3 });
    await call('POST', '/v1/services/api/header-route', { name: 'beta' });
    expect(cp.operations).toEqual([
      { name: 'api', operation: { type: 'promote', full: true }, options: { expectedVersion: undefined } },
      { name: 'api', operation: { type: 'undo', toRevision: 1 }, options: { expectedVersion: 7 } },
      { name: 'api', operation: { type: 'setWeight', percent: 40 }, options: { expectedVersion: undefined } },
      { name: 'api', operation: { type: 'abort' }, options: { expectedVersion: 7 } },
      { name: 'api', operation: { type: 'setHeaderRoute', name: 'beta', match: [{ cookieName: 'beta', cookieValue: { exact: 'yes' } }] }, options: { expectedVersion: undefined } },
      { name: 'api', operation: { type: 'setMirrorRoute', name: 'shadow', percentage: 10, match: [{ path: { prefix: '/api' }, method: { exact: 'GET' } }] }, options: { expectedVersion: 3 } },
      { name: 'api', operation: { type: 'setHeaderRoute', name: 'beta' }, options: { expectedVersion: undefined } },
    ]);
  });

  const bad: [string, string, unknown, string][] = [
    ['a weight above 100', '/v1/services/api/weight', { percent: 140 }, '/percent'],
    ['a weight that is not a number', '/v1/services/api/weight', { percent: 'half' }, '/percent'],
    ['a weight missing', '/v1/services/api/weight', {}, '/percent'],
    ['an unknown field', '/v1/services/api/pause', { force: true }, '/force'],
    ['a header route without a name', '/v1/services/api/header-route', { match: [{ headerName: 'x', headerValue: { exact: '1' } }] }, '/name'],
    ['a mirror percentage of 0', '/v1/services/api/mirror-route', { name: 'shadow', percentage: 0, match: [{ path: { prefix: '/' } }] }, '/percentage'],
    ['an unknown field of a header route', '/v1/services/api/header-route', { name: 'beta', weight: 5 }, '/weight'],
    ['a revision that is not a number', '/v1/services/api/undo', { toRevision: 'two' }, '/toRevision'],
    ['a version that is not a number', '/v1/services/api/abort', { expectedVersion: 'seven' }, '/expectedVersion'],
    ['an apply without its file', '/v1/apply', { text: 'kind: App' }, '/file'],
    ['a body that is not an object', '/v1/services/api/promote', [1, 2], ''],
  ];
  it.each(bad)('refuses %s with 400 naming the field', async (_what, path, body, field) => {
    const { status, json } = await call('POST', path, body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'BadRequest', field });
    expect(json.error.message).toContain(field === '' ? 'the body' : field);
    expect(schemaErrors('post', '', 400, json)).toBeNull();
    expect(cp.operations).toEqual([]);
  });

  it('refuses a body that is not JSON with 400', async () => {
    const { status, json } = await call('POST', '/v1/services/api/pause', '{not json');
    expect([status, json.error.code, json.error.message]).toEqual([400, 'BadRequest', 'request body is not valid JSON']);
  });

  it('answers 401 without a token and with a wrong one, and serves health and the document without one', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Record<string, string>[]) {
      const { status, json } = await call('GET', '/v1/services', undefined, headers);
      expect(status).toBe(401);
      expect(json.error.code).toBe('Unauthorized');
      expect(schemaErrors('get', '', 401, json)).toBeNull();
    }
    expect((await call('GET', '/v1/health', undefined, {})).json).toEqual({ ok: true, version: '1.2.3' });
    expect((await call('GET', '/openapi.json', undefined, {})).status).toBe(200);
  });

  const mapped: [string, Error, number][] = [
    ['NotFound', new ControlPlaneError('NotFound', 'no service "web"'), 404],
    ['InvalidOperation', new ControlPlaneError('InvalidOperation', 'nothing to promote'), 409],
    ['Conflict', new ControlPlaneError('Conflict', 'the status moved on'), 409],
    ['ValidationFailed', new ControlPlaneError('ValidationFailed', 'graylane.yaml is invalid', ['line 3: bad']), 422],
    ['StateDirFull', new StoreError('StateDirFull', 'the state directory is full'), 503],
    ['Internal (any other error)', new Error('boom'), 500],
  ];
  it.each(mapped)('answers a controller %s with its status and the sentence', async (code, err, status) => {
    cp.failWith = err;
    const res = await call('POST', '/v1/services/api/promote', {});
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ code: code.split(' ')[0], message: err.message });
    expect(schemaErrors('post', '', status, res.json)).toBeNull();
  });

  it('answers 404 for the data plane where the backend has none of its own (a cluster)', async () => {
    cp.dataPlane = undefined;
    const { status, json } = await call('GET', '/v1/data-plane');
    expect(status).toBe(404);
    expect(json.error.message).toBe('this server has no data plane of its own: on a cluster, traffic goes through Services, ingress-nginx, Istio or Gateway API');
  });

  it('answers 404 for an unknown service, operation or endpoint', async () => {
    expect((await call('GET', '/v1/services/web')).json.error).toEqual({ code: 'NotFound', message: 'no service "web"; services: api', details: [] });
    expect((await call('POST', '/v1/services/api/explode', {})).json.error.message).toBe('unknown operation "explode"; known: promote, pause, resume, abort, retry, undo, weight, restart, header-route, mirror-route');
    expect((await call('GET', '/v1/nothing')).status).toBe(404);
  });

  it('streams events and status views that the client checks against the contract', async () => {
    const client = new ApiClient(server.url, TOKEN);
    const abort = new AbortController();
    const got: { type: string; data: unknown }[] = [];
    const event: EventView = { id: 2, service: 'api', atMs: 20, level: 'warning', reason: 'GuardFailed', message: 'the guard failed the canary' };
    for await (const msg of client.stream({ service: 'api', signal: abort.signal })) {
      got.push(msg);
      if (got.length === 1) cp.emit({ event, view: { ...canaryView(), phase: 'Degraded', done: false, terminal: true } });
      if (got.length === 3) abort.abort();
    }
    expect(got.map((m) => m.type)).toEqual(['status', 'event', 'status']);
    expect(got[1]!.data).toEqual(event);
    expect(got[2]!.data).toMatchObject({ name: 'api', phase: 'Degraded', terminal: true });
  });

  it('answers the client with typed views and errors', async () => {
    const client = new ApiClient(server.url, TOKEN);
    const view = await client.operate('api', { type: 'setWeight', percent: 10 }, { expectedVersion: 7 });
    expect(view).toMatchObject({ name: 'api', namespace: 'default', guard: { verdict: 'Inconclusive' }, done: false, terminal: false, version: 7 });
    expect(cp.operations.at(-1)).toEqual({ name: 'api', operation: { type: 'setWeight', percent: 10 }, options: { expectedVersion: 7 } });
    await expect(client.get('web')).rejects.toMatchObject({ constructor: ApiError, code: 'NotFound', status: 404 });
  });
});
