/**
 * The supervisor holds the listening sockets while no worker does: a supervisor with one worker (a
 * one-core host's default) whose worker dies refuses no connection, the supervisor itself answers
 * none, and the port is free once the supervisor is gone, even killed with -9.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort, send, serviceTable, sleep, startUpstream } from '../../../../test/fixtures/router/support.js';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { supervisorChildren } from '../../../../test/fixtures/router/supervisor-children.js';
import { startSupervisedRouter } from './supervisor-control.js';

const cleanup = supervisorCleanup();

/** The supervisor's workers; none once it is gone. */
function children(pid: number): number[] {
  try {
    return supervisorChildren(pid).workers;
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

it('one worker killed: fresh connections during its replacement wait and are answered by the replacement, none refused', async () => {
  const a = await startUpstream('a');
  try {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-sockets-'));
    cleanup.dirs.push(dir);
    const port = await freePort();
    const s = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port }, drainTimeoutMs: 500 } });
    cleanup.started.push(s);
    await s.applyTable(serviceTable({ stable: [a] }));
    const url = `http://127.0.0.1:${port}/`;

    // With the supervisor holding the socket too, every connection still reaches the worker.
    const before = await Promise.all(Array.from({ length: 40 }, () => send(url)));
    expect(before.map((r) => r.body)).toEqual(Array(40).fill('a'));

    const [worker] = await s.workers();
    process.kill(worker!.pid, 'SIGKILL');
    // New connections (send opens one each) every 10 ms until the replacement has served some.
    const during: Promise<{ status: number; body: string } | Error>[] = [];
    const end = Date.now() + 20_000;
    let replaced = false;
    while (!replaced && Date.now() < end) {
      during.push(send(url).catch((err: Error) => err));
      await sleep(10);
      replaced = (await s.workers()).some((w) => w.pid !== worker!.pid && w.tableVersion > 0);
    }
    for (let i = 0; i < 10; i++) during.push(send(url).catch((err: Error) => err));
    const outcomes = await Promise.all(during);
    expect(replaced).toBe(true);
    expect(outcomes.length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o instanceof Error).map((o) => (o).message)).toEqual([]);
    expect(outcomes.map((o) => (o as { body: string }).body)).toEqual(Array(outcomes.length).fill('a'));
    await s.stop({ drainTimeoutMs: 200 });
    expect(children(s.pid)).toEqual([]);
  } finally {
    await a.close();
  }
}, 60_000);

it('a supervisor killed with -9: its workers leave by themselves, and the port is free again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-sockets-'));
  cleanup.dirs.push(dir);
  const port = await freePort();
  const s = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port }, drainTimeoutMs: 500 } });
  cleanup.started.push(s);
  await until(() => children(s.pid).length === 1, 20_000, 'a worker');
  const pids = children(s.pid);
  s.detach();
  process.kill(s.pid, 'SIGKILL');
  await until(() => pids.every((p) => !alive(p)), 10_000, 'the worker to exit');
  const again = createServer();
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((r) => again.close(r));
}, 60_000);
