/**
 * The in-process RouterControl over a real router on loopback: versions, equal tables, drains
 * (with a slow request really in flight), refused tables, and a snapshot of what was sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  instance, send, serviceTable, startRouter, startUpstream, until, type Handler, type Upstream,
} from '../../../../test/fixtures/router/support.js';
import type { RouteTable, RouterEvent } from '../../contract/index.js';
import { RouterError } from '../../errors.js';
import type { Router } from '../../router.js';
import { describeRouterControlConformance } from '../router-control.case.test.js';
import { createInProcessRouterControl } from './in-process-control.js';

describeRouterControlConformance('in-process', async (routes, drainTimeoutMs) => {
  const r = await startRouter({ routes, drainTimeoutMs });
  return { control: createInProcessRouterControl({ router: r.router }), url: r.url, close: r.close };
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/** Answers after `ms`, so that a request stays in flight that long. */
const slow = (ms: number): Handler => (req, res, u) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end(u.name), ms));
};

/** A router on loopback, counting the tables it was really given, and the control over it. */
async function routed(routes: RouteTable, drainTimeoutMs = 10_000) {
  const events: RouterEvent[] = [];
  const r = await startRouter({ routes, drainTimeoutMs, onEvent: (e) => events.push(e) });
  cleanups.push(r.close);
  const rebuilds = { count: 0 };
  // Counts the router's rebuilds: the proof that an equal table never reaches it.
  const router = new Proxy(r.router, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'setRouteTable' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) as unknown : value;
      return (table: RouteTable) => {
        rebuilds.count++;
        (value as Router['setRouteTable']).call(target, table);
      };
    },
  });
  const control = createInProcessRouterControl({ router });
  return { url: r.url, control, events, rebuilds };
}

/** Kinds of the events about one instance, in order. */
const eventsOf = (events: RouterEvent[], id: string) => events.filter((e) => e.instance === id).map((e) => e.type);

describe('in-process router control: tables', () => {
  it('a changed table is in force when applyTable returns, and bumps the version', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { url, control } = await routed(serviceTable({ stable: [a] }));
    expect(control.currentTable().version).toBe(0);
    const applied = control.applyTable(serviceTable({ stable: [b] }));
    // Already routed by the new table, before the promise is even awaited.
    expect((await send(`${url}/`)).body).toBe('b');
    expect(await applied).toEqual({ version: 1, changed: true });
    expect(control.currentTable()).toEqual({ version: 1, table: serviceTable({ stable: [b] }) });
    expect(await control.applyTable(serviceTable({ stable: [a] }))).toEqual({ version: 2, changed: true });
    expect((await send(`${url}/`)).body).toBe('a');
  });

  it('an equal table is a no-op: the router is not rebuilt, the version stays, no drain is replayed', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { control, events, rebuilds } = await routed(serviceTable({ stable: [a] }));
    const table = serviceTable({ stable: [instance('b', b.address), instance('a', a.address, { draining: true })] });
    expect(await control.applyTable(table)).toEqual({ version: 1, changed: true });
    expect(eventsOf(events, 'a')).toEqual(['instance-draining', 'instance-drained']);
    expect(await control.applyTable(structuredClone(table))).toEqual({ version: 1, changed: false });
    expect(rebuilds.count).toBe(1);
    // A rebuild would have made a fresh instance of the drained one and drained it again.
    expect(eventsOf(events, 'a')).toEqual(['instance-draining', 'instance-drained']);
  });

  it('a table the router cannot route is refused with a RouterError; the one in force stays', async () => {
    const a = await upstream('a');
    const { url, control } = await routed(serviceTable({ stable: [a] }));
    const bad: RouteTable = { services: [{ name: 'web', pathPrefix: '/', stable: 'v9', revisions: {}, canaryWeight: 0 }] };
    const err = await control.applyTable(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterError);
    expect((err as RouterError).code).toBe('INVALID_ROUTE_TABLE');
    expect(control.currentTable()).toEqual({ version: 0, table: serviceTable({ stable: [a] }) });
    expect((await send(`${url}/`)).body).toBe('a');
  });
});

describe('in-process router control: awaitDrained', () => {
  it('waits for a slow request in flight to the draining instance and resolves as it finishes', async () => {
    const a = await upstream('a', slow(400));
    const b = await upstream('b');
    const { url, control } = await routed(serviceTable({ stable: [a] }));
    let answeredAtMs = 0;
    const inFlight = send(`${url}/`).then((reply) => {
      answeredAtMs = Date.now();
      return reply;
    });
    await until(() => a.hits === 1, 5000, 'the request to reach a');
    await control.applyTable(serviceTable({ stable: [instance('b', b.address), instance('a', a.address, { draining: true })] }));
    const startedAtMs = Date.now();
    const outcome = await control.awaitDrained('a', Date.now() + 10_000);
    const drainedAtMs = Date.now();
    expect(outcome).toBe('drained');
    expect((await inFlight).body).toBe('a');
    expect(drainedAtMs - startedAtMs).toBeGreaterThanOrEqual(200);
    expect(answeredAtMs).toBeGreaterThan(0);
    expect(Math.abs(answeredAtMs - drainedAtMs)).toBeLessThan(200);
  });

  it('an instance left out of the table is drained too, and waited for', async () => {
    const a = await upstream('a', slow(300));
    const b = await upstream('b');
    const { url, control } = await routed(serviceTable({ stable: [a] }));
    const inFlight = send(`${url}/`);
    await until(() => a.hits === 1, 5000, 'the request to reach a');
    await control.applyTable(serviceTable({ stable: [b] }));
    expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('drained');
    expect((await inFlight).status).toBe(200);
  });

  it('gives timeout at the deadline while the request still runs', async () => {
    const a = await upstream('a', slow(1500));
    const b = await upstream('b');
    const { url, control } = await routed(serviceTable({ stable: [a] }));
    const inFlight = send(`${url}/`);
    await until(() => a.hits === 1, 5000, 'the request to reach a');
    await control.applyTable(serviceTable({ stable: [b] }));
    const startedAtMs = Date.now();
    expect(await control.awaitDrained('a', Date.now() + 150)).toBe('timeout');
    expect(Date.now() - startedAtMs).toBeLessThan(1000);
    // The deadline is the caller's: the router still lets the request finish.
    expect((await inFlight).body).toBe('a');
  });

  it("gives timeout when the router's own drain timeout cuts the request", async () => {
    const a = await upstream('a', slow(3000));
    const b = await upstream('b');
    const { url, control, events } = await routed(serviceTable({ stable: [a] }), 200);
    const inFlight = send(`${url}/`).catch((e: unknown) => e);
    await until(() => a.hits === 1, 5000, 'the request to reach a');
    await control.applyTable(serviceTable({ stable: [b] }));
    expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('timeout');
    expect(eventsOf(events, 'a').slice(0, 2)).toEqual(['instance-draining', 'instance-drain-timeout']);
    await inFlight;
    // The router then says the cut instance is drained: a later wait still learns it timed out.
    expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('timeout');
  });

  it('an idle instance drains as the table is applied; a later wait still gets drained', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { control } = await routed(serviceTable({ stable: [a] }));
    await control.applyTable(serviceTable({ stable: [instance('b', b.address), instance('a', a.address, { draining: true })] }));
    expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('drained');
  });

  it.each([
    ['never named by a table', 'nobody'],
    ['still routed', 'b'],
  ])('an instance %s is unknown at once', async (_what, id) => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { control } = await routed(serviceTable({ stable: [a] }));
    await control.applyTable(serviceTable({ stable: [a, b] }));
    expect(await control.awaitDrained(id, Date.now() + 10_000)).toBe('unknown');
  });

  it('an instance routed again after its drain is unknown, not drained', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { control } = await routed(serviceTable({ stable: [a, b] }));
    await control.applyTable(serviceTable({ stable: [b] }));
    await control.applyTable(serviceTable({ stable: [a, b] }));
    expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('unknown');
  });
});

describe('in-process router control: figures and events', () => {
  it("a snapshot holds every revision's totals and every release's figures, as sent", async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const table: RouteTable = {
      services: [
        { name: 'web', pathPrefix: '/', stable: 'v1', revisions: { v1: { instances: [instance('a', a.address)] } }, canaryWeight: 0 },
        { name: 'api', pathPrefix: '/api', stable: 'v7', revisions: { v7: { instances: [instance('b', b.address)] } }, canaryWeight: 0 },
      ],
      releases: [{ name: 'shop', services: ['web'], generation: 'g1', canaryWeight: 0, phase: 'progressing', cookie: 'graylane-release', header: 'x-graylane-release', secret: 'a-secret-of-16-chars' }],
    };
    const r = await startRouter({ routes: { services: [] } });
    cleanups.push(r.close);
    const control = createInProcessRouterControl({ router: r.router, nowMs: () => 1_700_000_000_000 });
    await control.applyTable(table);
    for (let i = 0; i < 3; i++) expect((await send(`${r.url}/`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await send(`${r.url}/api/x`)).status).toBe(200);
    const snap = await control.snapshot();
    expect(snap.atMs).toBe(1_700_000_000_000);
    expect(snap.tableVersion).toBe(1);
    const figures = snap.revisions.map((x) => ({
      service: x.service, revision: x.revision, requests: x.totals.requests, ok: x.totals.responses['2xx'],
      timed: x.totals.latency.counts.reduce((s, n) => s + n, 0),
    }));
    expect(figures.sort((x, y) => x.service.localeCompare(y.service))).toEqual([
      { service: 'api', revision: 'v7', requests: 2, ok: 2, timed: 2 },
      { service: 'web', revision: 'v1', requests: 3, ok: 3, timed: 3 },
    ]);
    expect(snap.releases).toEqual([{ release: 'shop', stats: control.releaseStats('shop') }]);
    expect(snap.releases[0]!.stats.assigned).toEqual({ stable: 3, canary: 0 });
    // The windowed reads see the same traffic.
    expect(control.totals({ service: 'web', revision: 'v1' }).requests).toBe(3);
    expect(control.stats({ service: 'api', revision: 'v7' }).requests).toBe(2);
    expect(control.recentLatency({ service: 'api', revision: 'v7' }).counts.reduce((s, n) => s + n, 0)).toBe(2);
    expect(control.releaseTraffic({ release: 'shop' }).requests).toEqual({ stable: 3, canary: 0 });
  });

  it('onEvent passes the router events on until unsubscribed', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const { control } = await routed(serviceTable({ stable: [a, b] }));
    const seen: string[] = [];
    const off = control.onEvent((e) => seen.push(`${e.type} ${e.instance}`));
    await control.applyTable(serviceTable({ stable: [b] }));
    off();
    await control.applyTable(serviceTable({ stable: [a] }));
    expect(seen).toEqual(['instance-draining a', 'instance-drained a']);
  });
});
