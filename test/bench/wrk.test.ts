import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrkError, parseWrkOutput, runWrk, spawnWrk } from '../../bench/lib-wrk.js';

// Debian's wrk (apt-get install wrk): without it the runs below are skipped, the parser still tested.
const noWrk = !existsSync('/usr/bin/wrk');
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(req.url === '/bad' ? 500 : 200, { 'content-length': 2 });
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('the router benchmark loads its targets with wrk', () => {
  it('reads the figures our Lua hook prints among wrk’s own output', () => {
    const out = 'Running 1s test @ http://x\n  2 threads and 4 connections\nGRAYLANE-WRK {"requests":5000,"durationUs":2000000,"p50Us":250,"p90Us":400,"p99Us":1250,"maxUs":9000,"connect":1,"read":2,"write":0,"status":7,"timeout":3}\nRequests/sec: 2500\n';
    expect(parseWrkOutput(out)).toEqual({ requests: 5000, requestsPerSecond: 2500, p50Ms: 0.25, p90Ms: 0.4, p99Ms: 1.25, maxMs: 9, errors: 6, non2xx: 7 });
  });

  it('refuses output without the summary line', () => {
    expect(() => parseWrkOutput('Requests/sec: 2500\n')).toThrow(expect.objectContaining({ code: 'NoSummary' }));
  });

  it.skipIf(noWrk)('measures a real server: requests, ordered percentiles, and error statuses counted apart', async () => {
    const ok = await runWrk({ url, connections: 4, threads: 1, durationS: 1 });
    expect(ok.requests).toBeGreaterThan(100);
    expect(ok.p50Ms).toBeGreaterThan(0);
    expect(ok.p50Ms).toBeLessThanOrEqual(ok.p99Ms);
    expect(ok.non2xx).toBe(0);
    const bad = await runWrk({ url: `${url}/bad`, connections: 2, threads: 1, durationS: 1 });
    expect(bad.non2xx).toBe(bad.requests);
  });

  it.skipIf(noWrk)('paces a fixed rate with Lua delay: far below what the server could take', async () => {
    for (const arrivals of ['poisson', 'lockstep'] as const) {
      const paced = await runWrk({ url, connections: 2, threads: 1, durationS: 2, rate: 100, arrivals });
      // 2 connections, 20 ms apart each on average: about 100/s; a loaded machine only lowers it.
      expect(paced.requestsPerSecond, arrivals).toBeGreaterThan(30);
      expect(paced.requestsPerSecond, arrivals).toBeLessThanOrEqual(arrivals === 'poisson' ? 125 : 105);
    }
  });

  it.skipIf(noWrk)('spreads a paced run\'s requests as independent clients would, unless asked for lockstep', async () => {
    const at: number[] = [];
    const stamping = http.createServer((req, res) => {
      at.push(performance.now());
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    });
    await new Promise<void>((r) => stamping.listen(0, '127.0.0.1', r));
    const target = `http://127.0.0.1:${(stamping.address() as AddressInfo).port}`;
    try {
      // The share of requests that arrive within 1 ms of the one before them.
      const bunched = async (arrivals: 'poisson' | 'lockstep') => {
        at.length = 0;
        await runWrk({ url: target, connections: 10, threads: 1, durationS: 2, rate: 200, arrivals });
        const gaps = at.slice(1).map((t, i) => t - at[i]!);
        return gaps.filter((g) => g < 1).length / gaps.length;
      };
      // Lockstep: 10 connections send together every 50 ms, so up to 9 of every 10 follow one at
      // once (each burst spreads a little per round, by the order its answers came in): 0.53-0.85
      // in seven runs.
      expect(await bunched('lockstep')).toBeGreaterThan(0.4);
      // Poisson at 200/s (5 ms apart on average, 18% of them under 1 ms; wrk's timers tick in whole
      // milliseconds, which bunches a few more): 0.145-0.17 in four runs.
      expect(await bunched('poisson')).toBeLessThan(0.35);
    } finally {
      stamping.closeAllConnections();
      await new Promise((r) => stamping.close(r));
    }
  });

  it.skipIf(noWrk)('says when wrk is missing, and when wrk itself fails', async () => {
    await expect(runWrk({ url, connections: 1, threads: 1, durationS: 1, wrkPath: '/nonexistent/wrk' })).rejects.toMatchObject({ code: 'WrkMissing' });
    await expect(runWrk({ url: 'not-a-url', connections: 1, threads: 1, durationS: 1 })).rejects.toThrow(WrkError);
    await expect(runWrk({ url: 'not-a-url', connections: 1, threads: 1, durationS: 1 })).rejects.toMatchObject({ code: 'WrkFailed' });
  });

  it.skipIf(noWrk)('runs wrk at the nice value asked, every thread of it from the start', async () => {
    const wrk = spawnWrk({ args: ['-c', '3', '-t', '3', '-d', '5s', url], nice: 7 });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const tasks = readdirSync(`/proc/${wrk.pid}/task`);
      expect(tasks.length).toBeGreaterThanOrEqual(4);
      // Field 19 of stat, counted after the command's closing parenthesis.
      const nice = tasks.map((t) => Number(readFileSync(`/proc/${wrk.pid}/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
      expect(new Set(nice)).toEqual(new Set([7]));
    } finally {
      wrk.interrupt();
      await wrk.output;
    }
  });
});
