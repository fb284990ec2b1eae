import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCheck } from './probe.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A loopback server that answers 200 at once, or never (`silent`). */
async function server(options: { silent?: boolean } = {}): Promise<number> {
  const s = http.createServer((_req, res) => {
    if (!options.silent) res.end('ok');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** Blocks this process's event loop, as a long garbage collection or a paused host does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

describe('health checks while this process stalls', () => {
  it('an app that answers while the prober is blocked past the timeout passes: the stall is the prober\'s, not the app\'s', async () => {
    const port = await server();
    const pending = httpCheck({ host: '127.0.0.1', port, path: '/healthz', timeoutMs: 200 });
    stall(700);
    expect(await pending).toMatchObject({ ok: true, detail: 'GET /healthz returned HTTP 200' });
  });

  it.each([[0], [700]])('an app that never answers still times out (prober blocked %i ms)', async (stallMs) => {
    const port = await server({ silent: true });
    const started = performance.now();
    const pending = httpCheck({ host: '127.0.0.1', port, path: '/healthz', timeoutMs: 200 });
    stall(stallMs);
    expect(await pending).toEqual({ ok: false, detail: 'GET /healthz timed out after 200 ms' });
    // Stalled: the check had its time again from the wake-up, once.
    if (stallMs > 0) expect(performance.now() - started).toBeGreaterThanOrEqual(stallMs + 190);
  });
});
