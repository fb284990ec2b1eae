/**
 * A message that cannot be handled costs that message, never the process that received it: the
 * supervisor holds every listening socket, and the daemon drives every release. Both sides are
 * fed messages that do not add up (a latency bin outside its histogram): the supervisor by real
 * workers that a preload module makes send every other report broken, the daemon by a fake
 * supervisor on the real socket protocol.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { send, serviceTable, sleep, startUpstream, until } from '../../../../test/fixtures/router/support.js';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { FINE_BOUNDS_MS } from '../../revision-stats.js';
import { emptyReport, zeroTotals, type MergedReport } from './figures.js';
import { PROTOCOL_VERSION, readJsonLines, SUPERVISOR_INFO_FILE, writeJsonLine, type HelloResult, type SupervisorInfo } from './protocol.js';
import { startSupervisedRouter } from './supervisor-control.js';
import { packReport, type WireMergedReport } from './wire-report.js';

const cleanup = supervisorCleanup();

const requestsOf = (revisions: Iterable<{ totals: { requests: number } }>) => [...revisions].reduce((n, r) => n + r.totals.requests, 0);

it('the supervisor drops a worker\'s report that does not add up, says so in its log a bounded number of times, and serves on with the same workers', async () => {
  const upstream = await startUpstream('a');
  const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-bad-report-'));
  cleanup.dirs.push(dir);
  const before = process.env.NODE_OPTIONS;
  // Inherited by the supervisor and, from it, by every worker it forks.
  process.env.NODE_OPTIONS = `${before ?? ''} --import=${pathToFileURL(resolve('test/fixtures/router/bad-report-worker.mjs')).href}`.trim();
  let s;
  try {
    s = await startSupervisedRouter({ stateDir: dir, workers: 2, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500 } });
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
  cleanup.started.push(s);
  try {
    await s.applyTable(serviceTable({ stable: [upstream] }));
    const pids = (await s.workers()).map((w) => w.pid).sort();
    // Reports come every 200 ms while requests flow: a few seconds of traffic sends dozens, half broken.
    let sent = 0;
    const end = Date.now() + 3_000;
    while (Date.now() < end) {
      const replies = await Promise.all(Array.from({ length: 10 }, () => send(`${s.url}/`)));
      expect(replies.map((r) => r.body)).toEqual(Array(10).fill('a'));
      sent += 10;
      await sleep(50);
    }
    // Reports are cumulative: the good ones that follow a dropped one carry everything.
    await until(() => requestsOf(s.metricsSource().revisions()) === sent, 10_000, `the merged figures to count ${sent} requests`);
    const status = await s.status();
    expect(status.exitsTotal).toBe(0);
    expect(status.workers.map((w) => w.pid).sort()).toEqual(pids);
    const said = readFileSync(join(dir, 'router-supervisor.log'), 'utf8').split('\n').filter((l) => l.includes("dropped a 'report' message of worker"));
    expect(said.length).toBeGreaterThanOrEqual(1);
    expect(said[0]).toMatch(/\(1 dropped so far\): web\/v1: latency bin 100000 is outside 0…399/);
    // First of its kind, then at 10, 100…: per kind, not per report.
    expect(said.length).toBeLessThanOrEqual(3);
    await s.stop({ drainTimeoutMs: 200 });
  } finally {
    await upstream.close();
  }
}, 60_000);

/** A report of revision `web/r1` having served `requests`, as a supervisor pushes it. */
function wireReport(requests: number): WireMergedReport {
  const totals = zeroTotals([...FINE_BOUNDS_MS]);
  totals.requests = requests;
  totals.responses['2xx'] = requests;
  totals.latency.counts[10] = requests;
  const report: MergedReport = { ...emptyReport(), atMs: Date.now(), tableVersion: 0, revisions: [{ service: 'web', revision: 'r1', totals, prom: { buckets: [requests], sumS: 0 } }] };
  return packReport(report);
}

/** A fake supervisor on the real socket protocol: answers hello and resize, and pushes what the test says. */
async function fakeSupervisor(dir: string): Promise<{ server: Server; push: (message: unknown) => void }> {
  const socketPath = join(dir, 'fake-supervisor.sock');
  const clients = new Set<Socket>();
  const server = createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    readJsonLines(client, (value) => {
      const request = value as { id: number; op: string; workers?: number };
      const hello: HelloResult = { pid: process.pid, url: 'http://127.0.0.1:1', version: 0, table: { services: [] }, report: wireReport(0) };
      const result = request.op === 'hello' ? hello : request.op === 'resize' ? { before: request.workers } : {};
      writeJsonLine(client, { v: PROTOCOL_VERSION, id: request.id, ok: true, result });
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  // The daemon adopts what router.json names: a live pid (this process) and its socket.
  const info: SupervisorInfo = { pid: process.pid, socketPath, url: 'http://127.0.0.1:1', listen: { host: '127.0.0.1', port: 1 }, protocol: PROTOCOL_VERSION };
  writeFileSync(join(dir, SUPERVISOR_INFO_FILE), JSON.stringify(info));
  return { server, push: (message) => { for (const c of clients) writeJsonLine(c, message); } };
}

it('the daemon drops a pushed report that does not add up, says so once, and keeps the connection and the figures it had', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-daemon-bad-push-'));
  cleanup.dirs.push(dir);
  const fake = await fakeSupervisor(dir);
  const problems: string[] = [];
  const control = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500 }, onProblem: (m) => problems.push(m) });
  try {
    expect(control.adopted).toBe(true);
    fake.push({ v: PROTOCOL_VERSION, push: 'report', report: wireReport(5) });
    await until(() => requestsOf(control.metricsSource().revisions()) === 5, 5_000, 'the first report');
    const broken = wireReport(7);
    broken.revisions[0]!.totals.latency.nonZero = [100_000, 7];
    for (let i = 0; i < 3; i++) fake.push({ v: PROTOCOL_VERSION, push: 'report', report: broken });
    fake.push({ v: PROTOCOL_VERSION, push: 'report', report: wireReport(9) });
    await until(() => requestsOf(control.metricsSource().revisions()) === 9, 5_000, 'the report after the broken ones');
    expect(problems).toEqual([expect.stringMatching(/^graylane: dropped a 'report' message of the router supervisor \(1 dropped so far\): web\/r1: latency bin 100000 is outside 0…399$/)]);
  } finally {
    control.detach();
    await new Promise((r) => fake.server.close(r));
  }
});
