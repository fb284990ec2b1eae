/**
 * A worker that dies while tables are being applied: the supervisor's message to it fails (EPIPE)
 * before its exit is seen. That must cost the dead worker only, never the supervisor and the
 * workers that still serve.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { send, serviceTable, sleep, startUpstream } from '../../../../test/fixtures/router/support.js';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { startSupervisedRouter } from './supervisor-control.js';

const cleanup = supervisorCleanup();

it('a worker killed in the middle of a stream of table applies leaves the supervisor serving; the replacement takes the last table', async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  try {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-death-apply-'));
    cleanup.dirs.push(dir);
    const s = await startSupervisedRouter({ stateDir: dir, workers: 2, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500 } });
    cleanup.started.push(s);
    await s.applyTable(serviceTable({ stable: [a] }));
    const victims = (await s.workers()).map((w) => w.pid);

    // Tables sent back to back while a worker is killed: some sends reach a dead pipe. Each worker
    // in turn, the next once the first's replacement serves (all dead at once is another story:
    // the listening socket closes with the last worker).
    const waitForReplacement = async (gone: number[], version: number) => {
      const end = Date.now() + 60_000;
      for (;;) {
        const workers = await s.workers();
        if (workers.length === 2 && workers.every((w) => !gone.includes(w.pid) && w.tableVersion >= version)) return;
        if (Date.now() > end) throw new Error(`no replacement on table ${version}: ${JSON.stringify(workers)}`);
        await sleep(100);
      }
    };
    let last = 0;
    for (const [n, victim] of victims.entries()) {
      const applies: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        if (i === 20) process.kill(victim, 'SIGKILL');
        applies.push(s.applyTable(serviceTable({ stable: [a], canary: [b], weight: 1 + ((last + i) % 99) })).then((r) => (last = Math.max(last, r.version))));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(applies);
      await waitForReplacement(victims.slice(0, n + 1), last);
    }
    const final = await s.applyTable(serviceTable({ stable: [a], canary: [b], weight: 100 }));
    await waitForReplacement(victims, final.version);
    const bodies = await Promise.all(Array.from({ length: 20 }, () => send(`${s.url}/`)));
    expect(bodies.map((r) => r.body)).toEqual(Array(20).fill('b'));
    expect((await s.status()).exitsTotal).toBe(2);
    await s.stop({ drainTimeoutMs: 200 });
  } finally {
    await a.close();
    await b.close();
  }
}, 120_000);
