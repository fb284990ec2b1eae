import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, createServer, request, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceRoute } from '../../contract/index.js';
import { startNginxRouterControl } from './nginx-control.js';
import { freePort } from '../../../../test/fixtures/router/support.js';

let upstreams: Server[] = [];
let ports: number[] = [];

beforeAll(async () => {
  upstreams = [createServer((_q, s) => s.end('ok')), createServer((_q, s) => s.end('ok'))];
  ports = await Promise.all(upstreams.map(async (u) => {
    await new Promise<void>((r) => u.listen(0, '127.0.0.1', r));
    return (u.address() as AddressInfo).port;
  }));
});

afterAll(() => {
  for (const u of upstreams) u.close();
});

/** The App's one service with its first `ready` instances ready, as the daemon renders start-up. */
function table(ready: number): { services: ServiceRoute[] } {
  return {
    services: [{
      name: 'web', pathPrefix: '/', stable: 'v1', canaryWeight: 0,
      revisions: { v1: { instances: ports.map((p, i) => ({ id: `i${i}`, address: `127.0.0.1:${p}`, ready: i < ready })) } },
    }],
  };
}

/**
 * A GET's status. A connection nginx closes without answering (an old worker shutting down closes
 * the connections it holds that carry no request yet) is retried once, as browsers retry an
 * idempotent request then (RFC 9112 §9.3.1); any answer, or a second failure, is what counts.
 */
function status(port: number, agent: Agent | false, retried = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: agent ? {} : { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && err.code === 'ECONNRESET') status(port, agent, true).then(resolve, reject);
      else reject(err);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('nginx reloads at start-up', () => {
  it('answers no request sent after apply returned from an older table (fresh start, instances ready one by one)', async () => {
    const wrong: string[] = [];
    let answered = 0;
    for (let round = 0; round < 6; round++) {
      const prefixDir = mkdtempSync(join(tmpdir(), 'graylane-nginx-reload-'));
      const port = await freePort();
      const control = await startNginxRouterControl({ mode: { type: 'managed', prefixDir, workers: 2 }, listen: `127.0.0.1:${port}`, drainTimeoutMs: 2000 });
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      let routed = false;
      let running = true;
      try {
        // As the daemon does: the App's service before any probe passed, then each instance as it passes.
        void control.applyTable(table(0));
        const load = Promise.all([...Array(8).keys()].map(async (k) => {
          while (running) {
            const after = routed;
            let outcome: string;
            try {
              outcome = String(await status(port, k % 2 === 0 ? agent : false));
            } catch (err) {
              outcome = (err as Error).message;
            }
            if (after) {
              answered++;
              if (outcome !== '200') wrong.push(`round ${round}: ${outcome}`);
            }
          }
        }));
        await control.applyTable(table(1));
        routed = true;
        await control.applyTable(table(2));
        await new Promise((r) => setTimeout(r, 200));
        running = false;
        await load;
      } finally {
        running = false;
        agent.destroy();
        await control.stop({ timeoutMs: 2000 });
        rmSync(prefixDir, { recursive: true, force: true });
      }
    }
    expect(wrong).toEqual([]);
    expect(answered).toBeGreaterThan(50);
  }, 90_000);
});
