import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFlag, startLoad, type LoadClient } from '../../bench/lib-load.js';

const noWrk = !existsSync('/usr/bin/wrk');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: http.Server;
let origin: string;
const hits = new Map<string, number>();
beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    res.writeHead(200, { 'x-served-by': `app@${req.url === '/a' ? 'a' : 'b'}`, 'content-length': 2 });
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('the daemon benchmarks’ load, from wrk or from this process', () => {
  it('takes --client wrk or node, wrk by default, and refuses anything else', () => {
    expect(clientFlag([])).toBe('wrk');
    expect(clientFlag(['--client', 'node'])).toBe('node');
    expect(() => clientFlag(['--client', 'autocannon'])).toThrow(/--client takes wrk .* or node/);
  });

  for (const client of ['wrk', 'node'] as LoadClient[]) {
    it.skipIf(client === 'wrk' && noWrk)(`${client}: spreads the rate over the paths and logs every request in send order`, async () => {
      hits.clear();
      const load = startLoad({ client, origin, paths: ['/a', '/b'], ratePerSecond: 100 });
      await sleep(1500);
      const { log, dropped, socketErrors } = await load.stop();
      expect(dropped + socketErrors).toBe(0);
      expect(log.sentMs.length).toBeGreaterThan(60);
      for (let i = 1; i < log.sentMs.length; i++) expect(log.sentMs[i]).toBeGreaterThanOrEqual(log.sentMs[i - 1]!);
      const a = log.servedBy.filter((b) => b === 'app@a').length;
      const b = log.servedBy.filter((x) => x === 'app@b').length;
      // Even turns: within a few requests of half each.
      expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.max(4, 0.1 * log.sentMs.length));
      expect(hits.get('/a')).toBeGreaterThanOrEqual(a);
    });
  }
});
