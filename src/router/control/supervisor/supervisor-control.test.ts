/**
 * The supervisor adapter over real processes: the conformance suite, then what only processes
 * have: every worker gets the table, and a second control on the same state dir adopts the running
 * supervisor instead of starting another.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { load, send, serviceTable, startUpstream, until } from '../../../../test/fixtures/router/support.js';
import type { RouterEvent } from '../../contract/index.js';
import { describeRouterControlConformance } from '../router-control.case.test.js';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

// Whatever a failed test left: no supervisor outlives the file.
const { started, dirs } = supervisorCleanup();

/** Waits until the supervisor reports `n` workers. */
async function workersBecome(s: SupervisedRouter, n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while ((await s.workers()).length !== n) {
    if (Date.now() > end) throw new Error(`the supervisor did not get to ${n} workers`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function supervised(workers: number, drainTimeoutMs = 10_000, stateDir?: string): Promise<SupervisedRouter> {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), 'graylane-sup-'));
  if (!stateDir) dirs.push(dir);
  const s = await startSupervisedRouter({ stateDir: dir, workers, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs } });
  started.push(s);
  return s;
}

describeRouterControlConformance('supervisor (2 workers)', async (table, drainTimeoutMs) => {
  const s = await supervised(2, drainTimeoutMs);
  if (table) await s.applyTable(table);
  return { control: s, url: s.url, close: () => s.stop({ drainTimeoutMs: 500 }) };
});

describe('router supervisor: workers', () => {
  it('a table applied is acknowledged by every worker, and each worker serves requests', async () => {
    const a = await startUpstream('a');
    const s = await supervised(2);
    try {
      const { version } = await s.applyTable(serviceTable({ stable: [a] }));
      const workers = await s.workers();
      expect(workers).toHaveLength(2);
      expect(workers.every((w) => w.tableVersion === version)).toBe(true);
      // Workers accept from the shared socket themselves: over forty fresh connections, both get some.
      await load(40, 4, () => send(`${s.url}/`));
      await s.snapshot();
      const after = await s.workers();
      expect(after.every((w) => w.requests > 0)).toBe(true);
      expect(after.reduce((n, w) => n + w.requests, 0)).toBe(40);
      expect(s.totals({ service: 'web', revision: 'v1' }).requests).toBe(40);
    } finally {
      await s.stop({ drainTimeoutMs: 500 });
      await a.close();
    }
  });

  it('an instance one worker ejects leaves every worker\'s balancing at once; the daemon hears one ejection and one readmission', async () => {
    let healthy = false;
    const good = await startUpstream('good');
    const bad = await startUpstream('bad', (req, res) => {
      req.resume();
      res.writeHead(healthy ? 200 : 500).end('bad');
    });
    const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-'));
    dirs.push(dir);
    const s = await startSupervisedRouter({ stateDir: dir, workers: 2, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500, circuitBreaker: { consecutiveErrors: 3, baseEjectionMs: 1500 } } });
    started.push(s);
    const events: RouterEvent[] = [];
    s.onEvent((e) => events.push(e));
    try {
      await s.applyTable(serviceTable({ stable: [good, bad] }));
      for (let i = 0; i < 50 && !events.some((e) => e.type === 'instance-ejected'); i++) await load(4, 4, () => send(`${s.url}/`));
      expect(events.filter((e) => e.type === 'instance-ejected')).toMatchObject([{ instance: 'bad', ejectionMs: 1500 }]);
      await s.snapshot();
      const before = new Map((await s.workers()).map((w) => [w.pid, w.requests]));
      const hits = bad.hits;
      // Fresh connections, four at a time: both workers take some, and neither sends one to bad.
      const { replies } = await load(40, 4, () => send(`${s.url}/`));
      expect(replies.map((r) => r.body)).toEqual(Array(40).fill('good'));
      expect(bad.hits).toBe(hits);
      await s.snapshot();
      expect((await s.workers()).every((w) => w.requests > (before.get(w.pid) ?? 0))).toBe(true);
      healthy = true;
      await until(() => events.some((e) => e.type === 'instance-readmitted'), 10_000, 'the readmission');
      await load(40, 4, () => send(`${s.url}/`));
      expect(bad.hits).toBeGreaterThan(hits + 1);
      expect(events.filter((e) => e.type === 'instance-ejected' || e.type === 'instance-readmitted').map((e) => e.type)).toEqual(['instance-ejected', 'instance-readmitted']);
    } finally {
      await s.stop({ drainTimeoutMs: 500 });
      await good.close();
      await bad.close();
    }
  }, 30_000);

  it('a second control on the same state dir adopts the running supervisor, table and all', async () => {
    const a = await startUpstream('a');
    const first = await supervised(2);
    try {
      const { version } = await first.applyTable(serviceTable({ stable: [a] }));
      await load(10, 2, () => send(`${first.url}/`));
      await first.snapshot();
      first.detach();
      const dir = dirs.at(-1)!;
      const second = await supervised(2, 10_000, dir);
      expect(second.adopted).toBe(true);
      expect(second.resizedFrom).toBeUndefined();
      expect(second.pid).toBe(first.pid);
      expect(second.url).toBe(first.url);
      expect(second.currentTable()).toEqual({ version, table: serviceTable({ stable: [a] }) });
      expect(second.totals({ service: 'web', revision: 'v1' }).requests).toBe(10);
      expect((await send(`${second.url}/`)).body).toBe('a');
      await second.stop({ drainTimeoutMs: 500 });
      await expect(send(`${first.url}/`)).rejects.toThrow();
    } finally {
      await a.close();
    }
  });

  it('a daemon asking for another worker count resizes the supervisor it adopts, up and down, without a failed request', async () => {
    const a = await startUpstream('a');
    const first = await supervised(2);
    const dir = dirs.at(-1)!;
    const steady = { stop: false, failed: [] as string[], sent: 0 };
    let traffic: Promise<unknown> | undefined;
    try {
      await first.applyTable(serviceTable({ stable: [a] }));
      const url = first.url;
      // Fresh connections, two at a time, for as long as the workers come and go.
      traffic = Promise.all([0, 1].map(async () => {
        while (!steady.stop) {
          steady.sent++;
          await send(`${url}/`).then((r) => r.status === 200 || steady.failed.push(`status ${r.status}`), (e: Error) => steady.failed.push(e.message));
        }
      }));
      first.detach();
      const grown = await supervised(3, 10_000, dir);
      expect(grown.resizedFrom).toBe(2);
      await workersBecome(grown, 3);
      grown.detach();
      const shrunk = await supervised(1, 10_000, dir);
      expect(shrunk.resizedFrom).toBe(3);
      expect(shrunk.pid).toBe(first.pid);
      await workersBecome(shrunk, 1);
      await new Promise((r) => setTimeout(r, 300));
      steady.stop = true;
      await traffic;
      expect(steady.failed).toEqual([]);
      expect(steady.sent).toBeGreaterThan(20);
      expect((await send(`${shrunk.url}/`)).body).toBe('a');
      await shrunk.stop({ drainTimeoutMs: 500 });
    } finally {
      steady.stop = true;
      await traffic;
      await a.close();
    }
  }, 40_000);

  it('refuses a worker count below 1', async () => {
    await expect(startSupervisedRouter({ stateDir: tmpdir(), workers: 0, router: { listen: { host: '127.0.0.1', port: 0 } } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('a supervisor that cannot listen fails its start with START_FAILED and leaves nothing running', async () => {
    const taken = await startUpstream('taken');
    const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-'));
    dirs.push(dir);
    try {
      const err = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port: taken.port } } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'START_FAILED' });
      expect((err as Error).message).toMatch(/EADDRINUSE/);
    } finally {
      await taken.close();
    }
  });
});
