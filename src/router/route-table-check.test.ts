import { describe, expect, it } from 'vitest';
import { createRouter } from './router.js';
import { RouterError } from './errors.js';
import { assertRouteTable, parseAddress } from './route-table-check.js';
import type { RouteTable, ServiceRoute } from './types.js';

const service = (extra: Partial<ServiceRoute> = {}): ServiceRoute => ({
  name: 'web',
  pathPrefix: '/',
  stable: 'v1',
  canaryWeight: 0,
  revisions: { v1: { instances: [{ id: 'a', address: '127.0.0.1:3000', ready: true }] }, v2: { instances: [] } },
  ...extra,
});

function issuesOf(table: unknown): string[] {
  try {
    assertRouteTable(table);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError);
    expect((err as RouterError).code).toBe('INVALID_ROUTE_TABLE');
    return (err as RouterError).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }
}

describe('route table validation', () => {
  it('accepts a full table', () => {
    const t: RouteTable = {
      services: [
        service({
          canary: 'v2',
          canaryWeight: 25,
          stickyCookie: 'gl',
          balancer: 'round-robin',
          matches: [{ match: [{ headerName: 'x', headerValue: { regex: '^a' } }, { cookieName: 'c' }], revision: 'v2' }],
          mirror: { revision: 'v2', percentage: 5, match: [{ method: { exact: 'GET' }, path: { prefix: '/api' }, headers: { 'x-a': { exact: '1' } } }] },
        }),
      ],
    };
    expect(issuesOf(t)).toEqual([]);
  });

  it.each([
    ['no services array', {}, 'services: is required'],
    ['a relative prefix', { services: [service({ pathPrefix: 'api' })] }, 'services.0.pathPrefix: must match pattern "^/"'],
    ['a canary not in revisions', { services: [service({ canary: 'v3' })] }, 'services.0.canary: names revision "v3", which is not in revisions'],
    ['a match to an unknown revision', { services: [service({ matches: [{ match: [{ headerName: 'x' }], revision: 'v9' }] })] }, 'services.0.matches.0.revision: names revision "v9", which is not in revisions'],
    ['a header and a cookie in one condition', { services: [service({ matches: [{ match: [{ headerName: 'x', cookieName: 'y' }], revision: 'v1' }] })] }, 'services.0.matches.0.match.0: has both a header and a cookie condition; use two conditions'],
    ['a value without a name', { services: [service({ matches: [{ match: [{ headerValue: { exact: 'a' } }], revision: 'v1' }] })] }, 'services.0.matches.0.match.0.headerName: is required with headerValue'],
    ['a mirror to an unknown revision', { services: [service({ mirror: { revision: 'v7', percentage: 1 } })] }, 'services.0.mirror.revision: names revision "v7", which is not in revisions'],
    ['a bad mirror regex', { services: [service({ mirror: { revision: 'v2', percentage: 1, match: [{ path: { regex: '[' } }] } })] }, 'services.0.mirror.match.0.path.regex: is not a valid regular expression: Invalid regular expression: /[/: Unterminated character class'],
    ['duplicate instance ids', { services: [service({ revisions: { v1: { instances: [{ id: 'a', address: '127.0.0.1:1', ready: true }, { id: 'a', address: '127.0.0.1:2', ready: true }] } } })] }, 'services.0.revisions.v1.instances.1.id: duplicates instance "a"'],
    ['the same route twice', { services: [service(), service({ name: 'other' })] }, 'services.1.pathPrefix: another service already routes any host /'],
    ['an unknown balancer', { services: [service({ balancer: 'random' as 'round-robin' })] }, 'services.0.balancer: must be equal to constant'],
    ['a bad sticky cookie name', { services: [service({ stickyCookie: 'a b' })] }, 'services.0.stickyCookie: must match pattern "^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$"'],
  ])('rejects %s', (_what, table, expected) => {
    expect(issuesOf(table)).toContain(expected);
  });

  it.each([
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['app.internal:3000', { host: 'app.internal', port: 3000 }],
    ['127.0.0.1', undefined],
    ['127.0.0.1:0', undefined],
    ['127.0.0.1:70000', undefined],
    ['::1:80', undefined],
    ['http://a:1', undefined],
  ])('parses address %s', (address, expected) => {
    expect(parseAddress(address)).toEqual(expected);
  });

  it('setRouteTable leaves the old table in place when the new one is invalid', () => {
    const router = createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes: { services: [service()] } });
    expect(() => router.setRouteTable({ services: [service({ canaryWeight: -1 })] })).toThrow(/services\[0\]\.canaryWeight: must be >= 0/);
    expect(router.getRouteTable().services[0]!.canaryWeight).toBe(0);
  });
});

describe('router options', () => {
  it.each([
    [{ listen: { host: '127.0.0.1', port: 70000 } }, 'listen must be { host, port }'],
    [{ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '0.0.0.0', port: 0, token: '0123456789abcdef' } }, 'admin.host must be a loopback address'],
    [{ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0, token: 'short' } }, 'admin.token must be at least 16 characters'],
    [{ listen: { host: '127.0.0.1', port: 0 }, timeouts: { connectMs: 0 } }, 'timeouts.connectMs must be an integer ≥ 1'],
    [{ listen: { host: '127.0.0.1', port: 0 }, statsWindowSeconds: 10 }, 'statsWindowSeconds must be an integer ≥ 60'],
    [{ listen: { host: '127.0.0.1', port: 0 }, circuitBreaker: { maxPendingRequests: -1 } }, 'circuitBreaker.maxPendingRequests must be an integer ≥ 0'],
  ])('rejects %j', (options, message) => {
    expect(() => createRouter(options)).toThrow(message);
  });

  it('refuses to start twice and stops idempotently', async () => {
    const router = createRouter({ listen: { host: '127.0.0.1', port: 0 } });
    await router.start();
    await expect(router.start()).rejects.toMatchObject({ code: 'ALREADY_STARTED' });
    await router.stop();
    await router.stop();
  });
});
