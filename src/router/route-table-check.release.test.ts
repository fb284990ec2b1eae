import { describe, expect, it } from 'vitest';
import { RouterError } from './errors.js';
import { assertRouteTable } from './route-table-check.js';
import { createRouter } from './router.js';
import type { ReleaseRoute, RouteTable, ServiceRoute } from './types.js';

const service = (name: string, pathPrefix: string, extra: Partial<ServiceRoute> = {}): ServiceRoute => ({
  name,
  pathPrefix,
  stable: 'v1',
  canary: 'v2',
  canaryWeight: 0,
  revisions: { v1: { instances: [] }, v2: { instances: [] } },
  ...extra,
});

const release = (extra: Partial<ReleaseRoute> = {}): ReleaseRoute => ({
  name: 'shop',
  services: ['web', 'api'],
  generation: 'g1',
  canaryWeight: 10,
  phase: 'progressing',
  cookie: 'graylane-release',
  header: 'x-graylane-release',
  secret: 'a-secret-of-16-chars',
  ...extra,
});

const table = (releases: ReleaseRoute[], services = [service('web', '/'), service('api', '/api')]): RouteTable => ({ services, releases });

function issuesOf(value: unknown): string[] {
  try {
    assertRouteTable(value);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError);
    expect((err as RouterError).code).toBe('INVALID_ROUTE_TABLE');
    return (err as RouterError).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }
}

describe('release validation', () => {
  it('accepts full releases, and the same cookie for releases on different hosts', () => {
    expect(issuesOf(table([release({ phase: 'promoted', skewUntilMs: 1_700_000_000_000, allowForceHeader: true, assetPattern: '\\.[0-9a-f]{8}\\.js$', canaryWeight: 12.5 })]))).toEqual([]);
    expect(issuesOf(table([release({ phase: 'aborted', abortGraceUntilMs: 1_700_000_005_000 })]))).toEqual([]);
    const services = [service('a', '/', { host: 'a.example' }), service('b', '/', { host: 'b.example' })];
    expect(issuesOf(table([release({ name: 'r1', services: ['a'] }), release({ name: 'r2', services: ['b'] })], services))).toEqual([]);
  });

  it.each([
    ['an unknown member service', [release({ services: ['web', 'cart'] })], 'releases.0.services.1: names service "cart", which is not in services'],
    ['a weight over 100', [release({ canaryWeight: 101 })], 'releases.0.canaryWeight: must be <= 100'],
    ['a negative weight', [release({ canaryWeight: -5 })], 'releases.0.canaryWeight: must be >= 0'],
    ['a short secret', [release({ secret: 'short' })], 'releases.0.secret: must be at least 16 characters (it signs version tokens)'],
    ['a bad asset regex', [release({ assetPattern: '(' })], 'releases.0.assetPattern: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group'],
    ['a negative abort grace deadline', [release({ phase: 'aborted', abortGraceUntilMs: -1 })], 'releases.0.abortGraceUntilMs: must be >= 0'],
    ['an unknown phase', [release({ phase: 'paused' as 'progressing' })], 'releases.0.phase: must be equal to constant'],
    ['a name with a space', [release({ name: 'my shop' })], 'releases.0.name: must match pattern "^[A-Za-z0-9._-]+$"'],
    ['a generation with a semicolon', [release({ generation: 'g;1' })], 'releases.0.generation: must match pattern "^[A-Za-z0-9._-]+$"'],
    ['a bad cookie name', [release({ cookie: 'a=b' })], 'releases.0.cookie: must match pattern "^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$"'],
    ['a header the router owns', [release({ header: 'Cookie' })], 'releases.0.header: "Cookie" is a header the router handles itself; choose another name'],
    ['no member', [release({ services: [] })], 'releases.0.services: must NOT have fewer than 1 items'],
    ['a member listed twice', [release({ services: ['web', 'web'] })], 'releases.0.services.1: lists service "web" twice'],
    ['a service in two releases', [release({ services: ['web'] }), release({ name: 'b', services: ['web', 'api'], cookie: 'c2', header: 'x-c2' })], 'releases.1.services.0: service "web" is already a member of release "shop"'],
    ['two releases named alike', [release({ services: ['web'] }), release({ services: ['api'], cookie: 'c2', header: 'x-c2' })], 'releases.1.name: duplicates release "shop"'],
    ['a shared cookie on one host', [release({ services: ['web'] }), release({ name: 'b', services: ['api'], header: 'x-b' })], 'releases.1.cookie: is also the cookie of release "shop" on the same host; each release needs its own'],
    ['a shared header on one host', [release({ services: ['web'] }), release({ name: 'b', services: ['api'], cookie: 'b', header: 'X-Graylane-Release' })], 'releases.1.header: is also the header of release "shop" on the same host; each release needs its own'],
    ['an unknown field', [{ ...release(), weight: 3 }], 'releases.0.weight: unknown field'],
    ['a missing secret', [{ ...release(), secret: undefined }], 'releases.0.secret: is required'],
  ])('rejects %s', (_what, releases, expected) => {
    expect(issuesOf(table(releases as ReleaseRoute[]))).toContain(expected);
  });

  it('leaves the current table in place when a release is invalid', () => {
    const router = createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes: table([release()]) });
    expect(() => router.setRouteTable(table([release({ services: ['nope'] })]))).toThrow(/releases\[0\]\.services\[0\]: names service "nope"/);
    expect(router.getRouteTable().releases![0]!.services).toEqual(['web', 'api']);
  });
});
