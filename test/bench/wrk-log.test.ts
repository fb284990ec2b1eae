import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWrkLog, startWrkLoad } from '../../bench/lib-wrk-log.js';

// Debian's wrk (.ci/run installs it): without it the live runs are skipped, the parser still tested.
const noWrk = !existsSync('/usr/bin/wrk');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: http.Server;
let url: string;
let served = 0;
let stallNext = false;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    served += 1;
    // /reset: every 5th request loses its connection before an answer.
    if (req.url === '/reset' && served % 5 === 0) {
      req.socket.destroy();
      return;
    }
    const answer = () => {
      res.writeHead(200, { 'X-Served-By': 'app@v7', 'content-length': 2 });
      res.end('ok');
    };
    if (stallNext) {
      stallNext = false;
      setTimeout(answer, 300);
    } else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('constant-rate wrk load with every request logged (seamless and crash benchmarks)', () => {
  it('reads the records in send order, moved onto this process’s clock, failures named', () => {
    const out = [
      'Running 10m test @ http://x',
      'GRAYLANE-REQ 1020.500,1021.250,200,app@v2',
      'GRAYLANE-REQ 1010.000,1011.000,200,app@v1',
      'GRAYLANE-REQ 1015.000,1030.000,0,',
      'GRAYLANE-ERR 0 1 0 0',
      'Requests/sec: 2.9',
    ].join('\n');
    const { log, socketErrors } = parseWrkLog(out, 1000);
    expect(log.sentMs).toEqual([10, 15, 20.5]);
    expect(log.doneMs).toEqual([11, 30, 21.25]);
    expect(log.status).toEqual([200, 0, 200]);
    expect(log.servedBy).toEqual(['app@v1', '', 'app@v2']);
    expect([...log.errors.keys()]).toEqual([1]);
    expect(socketErrors).toEqual({ connect: 0, read: 1, write: 0, timeout: 0 });
  });

  it('refuses output without the summary line (wrk did not finish its run)', () => {
    expect(() => parseWrkLog('GRAYLANE-REQ 1,2,200,\n', 0)).toThrow(expect.objectContaining({ code: 'NoSummary' }));
  });

  it.skipIf(noWrk)('holds the rate over its connections and logs each answer with who served it', async () => {
    const startedMs = performance.now();
    const load = startWrkLoad({ url, ratePerSecond: 200, connections: 4 });
    await sleep(1700);
    const stoppedMs = performance.now();
    const { log, socketErrors } = await load.stop();
    // 1.5 s of sending at 200/s after the 200 ms start-up: about 300; a loaded machine sends fewer, never more.
    expect(log.sentMs.length).toBeGreaterThan(150);
    expect(log.sentMs.length).toBeLessThanOrEqual(320);
    expect(new Set(log.status)).toEqual(new Set([200]));
    expect(new Set(log.servedBy)).toEqual(new Set(['app@v7']));
    expect(log.sentMs[0]).toBeGreaterThan(startedMs);
    expect(log.doneMs.at(-1)).toBeLessThan(stoppedMs + 500);
    for (let i = 1; i < log.sentMs.length; i++) expect(log.sentMs[i]).toBeGreaterThanOrEqual(log.sentMs[i - 1]!);
    for (let i = 0; i < log.sentMs.length; i++) expect(log.doneMs[i]).toBeGreaterThan(log.sentMs[i]!);
    expect(socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
  });

  it.skipIf(noWrk)('logs a request whose connection was lost as failed, and wrk counts the error', async () => {
    served = 0;
    const load = startWrkLoad({ url: `${url}/reset`, ratePerSecond: 100, connections: 2 });
    await sleep(1200);
    const { log, socketErrors } = await load.stop();
    const lost = log.status.filter((s) => s === 0).length;
    expect(lost).toBeGreaterThan(5);
    expect(log.errors.size).toBe(lost);
    // Every 5th request served lost its connection (the last one may still have been pending at the stop).
    expect(lost).toBeGreaterThanOrEqual(Math.floor(served / 5) - 2);
    expect(socketErrors.read).toBeGreaterThanOrEqual(lost);
  });

  it.skipIf(noWrk)('counts a request due while its connection was stalled from when it was due (no coordinated omission)', async () => {
    const load = startWrkLoad({ url, ratePerSecond: 100, connections: 1 });
    await sleep(500);
    stallNext = true;
    await sleep(1000);
    const { log } = await load.stop();
    const slow = log.sentMs.map((s, i) => log.doneMs[i]! - s).filter((ms) => ms > 100);
    // One answer took 300 ms; about 30 more were due meanwhile on the only connection. Measured from
    // when they went out they would all look fast; from when they were due, many took over 100 ms.
    expect(slow.length).toBeGreaterThan(10);
    expect(Math.max(...slow)).toBeGreaterThanOrEqual(290);
  });

  it.skipIf(noWrk)('counts one failed request per turn while nothing listens, and recovers when the server is back', async () => {
    const down = http.createServer((req, res) => {
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const port = (down.address() as AddressInfo).port;
    const load = startWrkLoad({ url: `http://127.0.0.1:${port}/`, ratePerSecond: 100, connections: 2 });
    await sleep(700);
    down.closeAllConnections();
    await new Promise((r) => down.close(r));
    const downAt = performance.now();
    await sleep(1000);
    const upAt = performance.now();
    await new Promise<void>((r) => down.listen(port, '127.0.0.1', r));
    await sleep(800);
    const { log } = await load.stop();
    down.closeAllConnections();
    await new Promise((r) => down.close(r));
    const failedWhileDown = log.sentMs.filter((s, i) => s >= downAt && s < upAt && log.status[i] === 0).length;
    // 1 s at 100/s: about 100 turns, each failing once; not wrk's thousands of reconnects.
    expect(failedWhileDown).toBeGreaterThan(50);
    expect(failedWhileDown).toBeLessThanOrEqual(110);
    expect(log.status.filter((s, i) => s === 200 && log.sentMs[i]! > upAt + 200).length).toBeGreaterThan(30);
  });

  it('says when wrk is missing', async () => {
    const load = startWrkLoad({ url: 'http://127.0.0.1:9/', ratePerSecond: 10, wrkPath: '/nonexistent/wrk' });
    await expect(load.stop()).rejects.toMatchObject({ code: 'WrkMissing' });
  });
});
