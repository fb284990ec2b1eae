/**
 * The RouterControl conformance suite: every adapter, over a real data plane on loopback, must put
 * a changed table in force and bump the version, take an equal table as a no-op, refuse a table the
 * router cannot route (keeping the one in force), wait for a drain with a slow request really in
 * flight, answer `unknown` for an instance it never drained, count what it routed in snapshots and
 * in its synchronous readers, and tell its listeners of drains. Each adapter's test file calls
 * {@link describeRouterControlConformance}.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  instance, send, serviceTable, startUpstream, until, type Handler, type Upstream,
} from '../../../test/fixtures/router/support.js';
import type { RouteTable, RouterEvent } from '../contract/index.js';
import type { RouterControl } from './router-control.js';

/** A data plane under test, routing `table` already (or given none yet), and the control over it. */
export interface RouterControlSetup {
  control: RouterControl;
  /** The proxy's base URL. */
  url: string;
  close(): Promise<void>;
}

/** Answers after `ms`, so that a request stays in flight that long. */
const slow = (ms: number): Handler => (req, res, u) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end(u.name), ms));
};

/**
 * Runs the suite; `setup` starts a data plane routing `table` with drains allowed `drainTimeoutMs`,
 * or, with no table, a fresh one its control plane has not given a table yet.
 */
export function describeRouterControlConformance(name: string, setup: (table: RouteTable | undefined, drainTimeoutMs: number) => Promise<RouterControlSetup>): void {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function upstream(n: string, handler?: Handler): Promise<Upstream> {
    const u = await startUpstream(n, handler);
    cleanups.push(() => u.close());
    return u;
  }
  async function plane(table: RouteTable | undefined, drainTimeoutMs = 10_000) {
    const s = await setup(table, drainTimeoutMs);
    cleanups.push(() => s.close());
    const events: RouterEvent[] = [];
    s.control.onEvent((e) => events.push(e));
    return { ...s, events };
  }

  describe(`${name}: RouterControl conformance`, () => {
    it('before its first table a data plane answers 503 router-starting with Retry-After; an empty first table is news, and then a miss is 404', async () => {
      const { url, control } = await plane(undefined);
      const early = await send(`${url}/anything`);
      expect(early.status).toBe(503);
      expect(early.headers['x-graylane-error']).toBe('router-starting');
      expect(early.headers['retry-after']).toBe('1');
      expect(early.body).toContain('no route table yet');
      const before = control.currentTable().version;
      // Equal to the empty table the plane started with, but the first one given: it must take effect.
      expect(await control.applyTable({ services: [] })).toEqual({ version: before + 1, changed: true });
      const miss = await send(`${url}/anything`);
      expect(miss.status).toBe(404);
      expect(miss.headers['x-graylane-error']).toBe('no-route');
      expect(await control.applyTable({ services: [] })).toEqual({ version: before + 1, changed: false });
    });

    it('a changed table is in force once applyTable resolves, and bumps the version', async () => {
      const a = await upstream('a');
      const b = await upstream('b');
      const { url, control } = await plane(serviceTable({ stable: [a] }));
      const before = control.currentTable().version;
      expect(await control.applyTable(serviceTable({ stable: [b] }))).toEqual({ version: before + 1, changed: true });
      for (let i = 0; i < 6; i++) expect((await send(`${url}/`)).body).toBe('b');
      expect(control.currentTable()).toEqual({ version: before + 1, table: serviceTable({ stable: [b] }) });
    });

    it('an equal table is a no-op: the version stays', async () => {
      const a = await upstream('a');
      const { control } = await plane(serviceTable({ stable: [a] }));
      const before = control.currentTable().version;
      expect(await control.applyTable(structuredClone(serviceTable({ stable: [a] })))).toEqual({ version: before, changed: false });
    });

    it('a table the router cannot route is refused with a RouterError; the one in force stays', async () => {
      const a = await upstream('a');
      const { url, control } = await plane(serviceTable({ stable: [a] }));
      const before = control.currentTable();
      const bad: RouteTable = { services: [{ name: 'web', pathPrefix: '/', stable: 'v9', revisions: {}, canaryWeight: 0 }] };
      const err = await control.applyTable(bad).catch((e: unknown) => e);
      // The router's own error class, as the port promises (named, not imported: the port's folder
      // may not depend on the data plane).
      expect(err).toMatchObject({ name: 'RouterError', code: 'INVALID_ROUTE_TABLE' });
      expect(control.currentTable()).toEqual(before);
      expect((await send(`${url}/`)).body).toBe('a');
    });

    it('awaitDrained waits for a slow request in flight to the draining instance', async () => {
      const a = await upstream('a', slow(600));
      const b = await upstream('b');
      const { url, control, events } = await plane(serviceTable({ stable: [a] }));
      const inFlight = send(`${url}/`);
      await until(() => a.hits === 1, 5000, 'the request to reach a');
      await control.applyTable(serviceTable({ stable: [instance('b', b.address), instance('a', a.address, { draining: true })] }));
      const startedAtMs = Date.now();
      expect(await control.awaitDrained('a', Date.now() + 10_000)).toBe('drained');
      expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(200);
      expect((await inFlight).body).toBe('a');
      await until(() => events.some((e) => e.type === 'instance-drained' && e.instance === 'a'), 5000, 'the drained event');
      expect(events.filter((e) => e.type === 'instance-drained' && e.instance === 'a')).toHaveLength(1);
    });

    it('a drain past its deadline ends in timeout', async () => {
      const a = await upstream('a', slow(5000));
      const b = await upstream('b');
      const { url, control } = await plane(serviceTable({ stable: [a] }), 300);
      const inFlight = send(`${url}/`).catch(() => undefined);
      await until(() => a.hits === 1, 5000, 'the request to reach a');
      await control.applyTable(serviceTable({ stable: [instance('b', b.address), instance('a', a.address, { draining: true })] }));
      expect(await control.awaitDrained('a', Date.now() + 300)).toBe('timeout');
      await inFlight;
    });

    it('an instance never drained is unknown', async () => {
      const a = await upstream('a');
      const { control } = await plane(serviceTable({ stable: [a] }));
      expect(await control.awaitDrained('a', Date.now() + 1000)).toBe('unknown');
      expect(await control.awaitDrained('nobody', Date.now() + 1000)).toBe('unknown');
    });

    it('counts what it routed: snapshot, totals, stats and recent latency', async () => {
      const a = await upstream('a');
      const { url, control } = await plane(serviceTable({ stable: [a] }));
      for (let i = 0; i < 12; i++) expect((await send(`${url}/`)).status).toBe(200);
      const snap = await control.snapshot();
      expect(snap.tableVersion).toBe(control.currentTable().version);
      expect(snap.revisions.find((r) => r.revision === 'v1')?.totals.requests).toBe(12);
      expect(control.totals({ service: 'web', revision: 'v1' }).requests).toBe(12);
      expect(control.totals({ service: 'web', revision: 'v1' }).responses['2xx']).toBe(12);
      const stats = control.stats({ service: 'web', revision: 'v1', windowMs: 60_000 });
      expect(stats.requests).toBe(12);
      expect(stats.latencyMs.p50).toBeGreaterThan(0);
      expect(control.recentLatency({ service: 'web', revision: 'v1' }).counts.reduce((x, y) => x + y, 0)).toBe(12);
      expect(control.totals({ service: 'web', revision: 'v9' }).requests).toBe(0);
      expect(control.releaseStats('none').assigned).toEqual({ stable: 0, canary: 0 });
    });
  });
}
