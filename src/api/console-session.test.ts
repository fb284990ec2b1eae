import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../controller/control-plane.js';
import { buildRolloutView, type ServiceView } from '../view/index.js';
import type { ApiBackend } from './api-backend.js';
import { ApiClient, ApiError } from './client.js';
import { CSRF_HEADER, SESSION_COOKIE, type Operation } from './contract/index.js';
import { startApiServer, type ApiServer } from './server.js';

const TOKEN = 'the-daemon-token-for-these-tests-0123456789';

function view(name = 'api'): ServiceView {
  return buildRolloutView({
    name,
    static: false,
    spec: { strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: {} }] } } },
    status: { phase: 'Paused', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 1, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }], message: 'paused' } as never,
    traffic: { stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 25, headerRoutes: [], mirrorRoutes: [] },
    revisions: [{ name: 'aaa', number: 1, instances: [] }, { name: 'bbb', number: 2, instances: [] }],
    stats: {},
    version: 3,
  });
}

/** A backend with one service that records the operations it runs. */
class Backend implements ApiBackend {
  readonly operations: Operation[] = [];
  list(): ServiceView[] { return [view()]; }
  get(name: string): ServiceView {
    if (name !== 'api') throw new ControlPlaneError('NotFound', `no service "${name}"; services: api`);
    return view();
  }
  operate(name: string, operation: Operation): Promise<ServiceView> {
    this.operations.push(operation);
    return Promise.resolve(this.get(name));
  }
  history(): [] { return []; }
  analysis(): [] { return []; }
  events(): [] { return []; }
  subscribe(): () => void { return () => undefined; }
}

let now = 1_000_000;
let backend: Backend;
let server: ApiServer;

beforeEach(async () => {
  now = 1_000_000;
  backend = new Backend();
  server = await startApiServer({ backend, token: TOKEN, version: '9.9.9', nowMs: () => now, consoleDir: '/nonexistent/graylane-console' });
});
afterEach(() => server.close());

interface Answer { status: number; headers: Headers; json: { error?: { code: string; message: string } } & Record<string, unknown> }

async function call(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : { text }) as Answer['json'] };
}

/** Signs in; the cookie to send back and the CSRF token. */
async function signIn(): Promise<{ cookie: string; csrf: string; answer: Answer }> {
  const answer = await call('POST', '/v1/session', { body: { token: TOKEN } });
  expect(answer.status).toBe(200);
  const cookie = answer.headers.get('set-cookie')!.split(';')[0]!;
  return { cookie, csrf: answer.json.csrfToken as string, answer };
}

describe('console sign-in', () => {
  it('sets the session cookie with exactly HttpOnly, SameSite=Strict, Path=/ and a 12 h Max-Age, and answers the session', async () => {
    const { answer, csrf } = await signIn();
    const attributes = answer.headers.get('set-cookie')!.split(';').map((p) => p.trim());
    expect(attributes[0]).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{40,}$`));
    expect(attributes.slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict']);
    expect(answer.json).toEqual({ csrfToken: csrf, place: 'single-host', version: '9.9.9', expiresAtMs: now + 12 * 3600_000 });
    // Neither secret is in the other: the page's CSRF token does not give away the cookie.
    expect(attributes[0]).not.toContain(csrf);
  });

  it('refuses a wrong token with 401 and a sentence, and does not set a cookie', async () => {
    const answer = await call('POST', '/v1/session', { body: { token: 'guess' } });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toEqual({ code: 'Unauthorized', message: expect.stringContaining('`graylane token` prints it') as string });
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a sign-in without a token as a bad request', async () => {
    const answer = await call('POST', '/v1/session', { body: {} });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.message).toContain('sign in with {"token": "..."}');
  });

  it('slows guessing: after 5 wrong tokens in a minute even the right one waits (429, Retry-After) until the window passes', async () => {
    for (let i = 0; i < 5; i++) {
      now += 1000;
      expect((await call('POST', '/v1/session', { body: { token: `guess-${i}` } })).status).toBe(401);
    }
    // The first failure was at +1 s: the count drops below 5 when it is a minute old, at +61 s.
    const slowed = await call('POST', '/v1/session', { body: { token: TOKEN } });
    expect(slowed.status).toBe(429);
    expect(slowed.headers.get('retry-after')).toBe('56');
    expect(slowed.json.error).toEqual({ code: 'TooManyRequests', message: 'too many wrong tokens in the last minute: wait 56 s before signing in again' });
    now += 55_000;
    expect((await call('POST', '/v1/session', { body: { token: 'guess-again' } })).status).toBe(429);
    now += 1000;
    expect((await call('POST', '/v1/session', { body: { token: TOKEN } })).status).toBe(200);
  });

  it('answers the session again to a reloaded page with its cookie, and 401 without one', async () => {
    const { cookie, csrf } = await signIn();
    now += 60_000;
    const again = await call('GET', '/v1/session', { headers: { cookie } });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ csrfToken: csrf, expiresAtMs: now + 12 * 3600_000 });
    expect((await call('GET', '/v1/session')).status).toBe(401);
    expect((await call('GET', '/v1/session', { headers: { cookie: `${SESSION_COOKIE}=made-up` } })).status).toBe(401);
  });
});

describe('requests with the session cookie', () => {
  it('reads with the cookie alone', async () => {
    const { cookie } = await signIn();
    const answer = await call('GET', '/v1/services', { headers: { cookie } });
    expect(answer.status).toBe(200);
    expect((answer.json.services as ServiceView[]).map((s) => s.name)).toEqual(['api']);
  });

  it('refuses a change without the CSRF header, or with a wrong one, with 403 Forbidden; runs it with the right one', async () => {
    const { cookie, csrf } = await signIn();
    const missing = await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie } });
    expect(missing.status).toBe(403);
    expect(missing.json.error).toEqual({ code: 'Forbidden', message: `a change from the console needs the session's CSRF token in the ${CSRF_HEADER} header: reload the page and try again` });
    const wrong = await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie, [CSRF_HEADER]: `${csrf.slice(0, -1)}x` } });
    expect(wrong.status).toBe(403);
    expect(backend.operations).toEqual([]);
    const right = await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie, [CSRF_HEADER]: csrf } });
    expect(right.status).toBe(200);
    expect(backend.operations).toEqual([{ type: 'pause' }]);
  });

  it('refuses a change from a page of another origin even with the CSRF token; accepts its own origin', async () => {
    const { cookie, csrf } = await signIn();
    const foreign = await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie, [CSRF_HEADER]: csrf, origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error?.message).toContain('another site');
    const own = await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie, [CSRF_HEADER]: csrf, origin: server.url } });
    expect(own.status).toBe(200);
    expect(backend.operations).toEqual([{ type: 'pause' }]);
  });

  it('lets the CLI\'s bearer token change things without a CSRF token, and refuses a wrong bearer token even with a good cookie', async () => {
    const { cookie } = await signIn();
    expect((await call('POST', '/v1/services/api/pause', { body: {}, headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call('GET', '/v1/services', { headers: { authorization: 'Bearer nope', cookie } })).status).toBe(401);
  });

  it('works through the shared ApiClient as the console uses it: sign in, then operate with the CSRF token', async () => {
    // Node's fetch keeps no cookies: the console's browser does; here the cookie is put on by hand.
    const { cookie, csrf } = await signIn();
    const original = globalThis.fetch;
    const withCookie: typeof fetch = (input, init) => original(input, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie } });
    globalThis.fetch = withCookie;
    try {
      const client = new ApiClient(server.url, undefined, undefined, { csrfToken: () => csrf });
      expect((await client.operate('api', { type: 'abort' })).name).toBe('api');
      const refused = new ApiClient(server.url, undefined, undefined, { csrfToken: () => 'stale' });
      await expect(refused.operate('api', { type: 'abort' })).rejects.toMatchObject({ status: 403, code: 'Forbidden' } satisfies Partial<ApiError>);
    } finally {
      globalThis.fetch = original;
    }
  });

  it('ends the session on sign-out: the cookie no longer works and is cleared', async () => {
    const { cookie, csrf } = await signIn();
    expect((await call('POST', '/v1/session/end', { headers: { cookie } })).status).toBe(403);
    const ended = await call('POST', '/v1/session/end', { headers: { cookie, [CSRF_HEADER]: csrf } });
    expect(ended.status).toBe(200);
    expect(ended.headers.get('set-cookie')).toContain('Max-Age=0');
    const after = await call('GET', '/v1/services', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.json.error?.message).toContain('sign in again');
  });

  it('expires a session after 12 h without use, and slides the expiry on every use', async () => {
    const { cookie } = await signIn();
    now += 11 * 3600_000;
    expect((await call('GET', '/v1/services', { headers: { cookie } })).status).toBe(200);
    // 11 h after that use: 22 h after sign-in, still alive because it was used.
    now += 11 * 3600_000;
    expect((await call('GET', '/v1/services', { headers: { cookie } })).status).toBe(200);
    now += 12 * 3600_000;
    expect((await call('GET', '/v1/services', { headers: { cookie } })).status).toBe(401);
    expect((await call('GET', '/v1/session', { headers: { cookie } })).status).toBe(401);
  });

  it('never puts the token or the session id in an error message', async () => {
    const { cookie } = await signIn();
    const id = cookie.split('=')[1]!;
    const answers = [
      await call('POST', '/v1/session', { body: { token: `${TOKEN}x` } }),
      await call('POST', '/v1/services/api/pause', { body: {}, headers: { cookie } }),
      await call('GET', '/v1/services', { headers: { authorization: `Bearer ${TOKEN}x` } }),
      await call('GET', '/v1/services/nope', { headers: { cookie } }),
    ];
    for (const a of answers) {
      expect(a.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(a.json)).not.toContain(TOKEN);
      expect(JSON.stringify(a.json)).not.toContain(id);
    }
  });
});

describe('security headers', () => {
  const expected = {
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  it.each([
    ['a page', '/services/api', {}],
    ['JSON', '/v1/services', { authorization: `Bearer ${TOKEN}` }],
    ['an error', '/v1/services', {}],
    ['health', '/v1/health', {}],
  ])('are on %s', async (_what, path, headers) => {
    const answer = await call('GET', path, { headers });
    for (const [name, value] of Object.entries(expected)) expect(answer.headers.get(name), name).toBe(value);
  });
});

describe('the session store', () => {
  it('keeps at most its bound: signing in beyond it ends the least recently used session', async () => {
    const { SessionStore } = await import('./console-session.js');
    const store = new SessionStore({ nowMs: () => 0, maxSessions: 3 });
    const [a, b, c] = [store.create(), store.create(), store.create()];
    expect(store.use(a.id)).toBe(a);
    store.create();
    expect(store.size).toBe(3);
    // b was the least recently used (a was used after it was made).
    expect(store.use(b.id)).toBeUndefined();
    expect(store.use(a.id)).toBe(a);
    expect(store.use(c.id)).toBe(c);
  });
});
