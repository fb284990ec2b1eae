/**
 * The runtime port's conformance suite: each adapter's test file calls `describeRuntimeConformance`;
 * a case an adapter cannot support is skipped with the reason (after checking its capability error).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeCapabilityError } from './errors.js';
import type { InstanceChange, InstanceInfo, Runtime } from './runtime.js';
import { waitForInstances } from './wait.js';

/** What a case needs from an adapter. */
export interface ConformanceFixture<T> {
  /** A fresh runtime. */
  runtime: Runtime<T>;
  /** A template whose instances answer `GET /` with 200 once ready and print at least one line. */
  template: T;
  /** How many replicas the template supports (static: its number of targets). */
  replicas: number;
  /** Releases whatever the fixture started outside the runtime. */
  dispose(): Promise<void>;
  /**
   * Where the test reaches an instance's address (default `http://<address>/`): for adapters
   * whose addresses live on a network the test is not on (a fake cluster's pod IPs), a stand-in
   * that answers exactly while that address is served.
   */
  urlOf?: (address: string) => string;
}

const SERVICE = 'svc';
const REVISION = 'rev1';

async function answers(address: string, urlOf?: (address: string) => string): Promise<boolean> {
  try {
    const res = await fetch(urlOf?.(address) ?? `http://${address}/`, { signal: AbortSignal.timeout(2_000) });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/** Registers the conformance cases for one adapter. */
export function describeRuntimeConformance<T>(label: string, create: () => Promise<ConformanceFixture<T>>): void {
  describe(`runtime conformance: ${label}`, () => {
    let fixture: ConformanceFixture<T> | undefined;
    const setup = async () => {
      fixture = await create();
      return fixture;
    };
    const ensure = (f: ConformanceFixture<T>) =>
      f.runtime.ensureInstances({ service: SERVICE, revision: REVISION, template: f.template, replicas: f.replicas });
    const allReady = (f: ConformanceFixture<T>) =>
      waitForInstances(f.runtime, (l) => l.length === f.replicas && l.every((i) => i.state === 'ready'), { service: SERVICE, timeoutMs: 20_000 });

    afterEach(async () => {
      await fixture?.runtime.shutdown({ stopInstances: true });
      await fixture?.dispose();
      fixture = undefined;
    });

    it('declares its type and capabilities', async () => {
      const { runtime } = await setup();
      expect(runtime.type).toMatch(/^[a-z]+$/);
      for (const key of ['processes', 'logs', 'adopt'] as const) expect(typeof runtime.capabilities[key]).toBe('boolean');
    });

    it('brings up the instances, which become ready and answer at their address', async () => {
      const f = await setup();
      const listed = await ensure(f);
      expect(listed).toHaveLength(f.replicas);
      const ready = await allReady(f);
      for (const inst of ready) {
        expect(inst).toMatchObject({ service: SERVICE, revision: REVISION, restarts: 0 });
        expect(inst.address).toMatch(/^[^:]+:\d+$/);
        expect(await answers(inst.address, f.urlOf)).toBe(true);
      }
    });

    it('is idempotent: ensuring again keeps the same instances', async () => {
      const f = await setup();
      const first = (await ensure(f)).map((i) => i.id).sort();
      const second = (await ensure(f)).map((i) => i.id).sort();
      expect(second).toEqual(first);
      expect(f.runtime.listInstances()).toHaveLength(f.replicas);
    });

    it('filters listings by service and revision', async () => {
      const f = await setup();
      await ensure(f);
      expect(f.runtime.listInstances({ service: SERVICE })).toHaveLength(f.replicas);
      expect(f.runtime.listInstances({ service: SERVICE, revision: REVISION })).toHaveLength(f.replicas);
      expect(f.runtime.listInstances({ service: 'other' })).toEqual([]);
      expect(f.runtime.listInstances({ revision: 'other' })).toEqual([]);
    });

    it('reports state changes, from starting to ready', async () => {
      const f = await setup();
      const changes: InstanceChange[] = [];
      const off = f.runtime.on('change', (c) => changes.push(c));
      await ensure(f);
      await allReady(f);
      off();
      const toReady = changes.filter((c) => c.instance.state === 'ready');
      expect(new Set(toReady.map((c) => c.instance.id)).size).toBe(f.replicas);
      expect(toReady.every((c) => c.previousState === 'starting')).toBe(true);
      const count = changes.length;
      await ensure(f);
      expect(changes).toHaveLength(count);
    });

    it('rejects an impossible replica count', async () => {
      const f = await setup();
      await expect(f.runtime.ensureInstances({ service: SERVICE, revision: REVISION, template: f.template, replicas: -1 }))
        .rejects.toMatchObject({ code: 'RuntimeInput' });
    });

    it('stops an instance gracefully, unrouting it first through beforeStop', async (ctx) => {
      const f = await setup();
      await ensure(f);
      const [inst] = await allReady(f);
      if (!f.runtime.capabilities.processes) {
        await expect(f.runtime.stopInstance({ id: inst!.id })).rejects.toBeInstanceOf(RuntimeCapabilityError);
        await expect(f.runtime.stopInstance({ id: inst!.id })).rejects.toMatchObject({ code: 'RuntimeCapability' });
        ctx.skip(`the ${f.runtime.type} runtime does not run its instances, so it cannot stop them (checked: capability error)`);
      }
      const seen: { state: string; answered: boolean }[] = [];
      await f.runtime.stopInstance({
        id: inst!.id,
        beforeStop: async (i: InstanceInfo) => { seen.push({ state: i.state, answered: await answers(i.address, f.urlOf) }); },
      });
      expect(seen).toEqual([{ state: 'stopping', answered: true }]);
      expect(await answers(inst!.address, f.urlOf)).toBe(false);
      expect(f.runtime.listInstances().map((i) => i.id)).not.toContain(inst!.id);
    });

    it('rejects stopping an unknown instance', async (ctx) => {
      const f = await setup();
      ctx.skip(!f.runtime.capabilities.processes, 'without processes every stop is a capability error (case above)');
      await expect(f.runtime.stopInstance({ id: 'no-such-instance' })).rejects.toMatchObject({ code: 'InstanceNotFound' });
    });

    it('adopts nothing it cannot verify', async (ctx) => {
      const f = await setup();
      const record = { id: 'x', service: SERVICE, revision: REVISION, pid: 2 ** 22 + 4321, port: 1, startedAtMs: 0, command: ['nothing'] };
      if (!f.runtime.capabilities.adopt) {
        await expect(f.runtime.adopt([record])).rejects.toMatchObject({ code: 'RuntimeCapability' });
        ctx.skip(`the ${f.runtime.type} runtime has nothing to adopt (checked: capability error)`);
      }
      const result = await f.runtime.adopt([record]);
      expect(result).toMatchObject({ adopted: [], rejected: [{ reason: 'dead' }] });
      expect(f.runtime.listInstances()).toEqual([]);
    });

    it('returns its instances output as lines', async (ctx) => {
      const f = await setup();
      if (!f.runtime.capabilities.logs) {
        expect(() => f.runtime.readLogs({ service: SERVICE })).toThrow(RuntimeCapabilityError);
        ctx.skip(`the ${f.runtime.type} runtime keeps no output (checked: capability error)`);
      }
      await ensure(f);
      const ids = (await allReady(f)).map((i) => i.id);
      const lines = [];
      for await (const line of f.runtime.readLogs({ service: SERVICE })) lines.push(line);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(ids).toContain(l.instance);
    });

    it('forgets every instance on shutdown with stopInstances', async () => {
      const f = await setup();
      await ensure(f);
      await allReady(f);
      await f.runtime.shutdown({ stopInstances: true });
      expect(f.runtime.listInstances()).toEqual([]);
    });
  });
}
