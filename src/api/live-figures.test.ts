/**
 * The event stream carries the live figures: a controller tells of state changes only, so the
 * server's samples send a view whenever its requests, errors or latency moved, and never the same
 * view twice.
 */
import { afterEach, expect, it } from 'vitest';
import type { ApiBackend } from './api-backend.js';
import { ApiClient } from './client.js';
import type { ServiceView } from './contract/index.js';
import { startApiServer, type ApiServer } from './server.js';

const TOKEN = 'live-figures-token';
let server: ApiServer | undefined;
afterEach(async () => server?.close());

function viewWith(requestsPerSecond: number): ServiceView {
  return {
    name: 'web', namespace: 'default', kind: 'service', phase: 'Paused', strategy: 'canary', step: 2, steps: 4, message: 'paused',
    done: false, terminal: false, aborted: false, pauseReasons: ['CanaryPauseStep'], analysis: [], version: 3,
    revisions: [{ name: 'bbb', number: 2, role: 'canary', weight: 50, ready: 1, total: 1, requestsPerSecond, errorRate: 0, p99Ms: 4, fallbacks: 0, unreadyServed: 0, instances: [] }],
  };
}

it('sends a view on the stream when its figures move between state changes, and not again while they stand still', async () => {
  let rps = 0;
  const backend: ApiBackend = {
    list: () => [viewWith(rps)],
    get: () => viewWith(rps),
    operate: () => Promise.reject(new Error('not used')),
    history: () => [],
    analysis: () => [],
    events: () => [],
    // A controller that never tells of a change: only the samples can carry the figures.
    subscribe: () => () => undefined,
  };
  server = await startApiServer({ backend, token: TOKEN, sampleIntervalMs: 30 });
  const client = new ApiClient(server.url, TOKEN);
  const abort = new AbortController();
  const seen: number[] = [];
  const reading = (async () => {
    for await (const m of client.stream({ signal: abort.signal })) {
      if (m.type !== 'status') continue;
      seen.push((m.data as ServiceView).revisions[0]!.requestsPerSecond);
      if (seen.length === 1) rps = 12;
      else if (seen.length === 2) setTimeout(() => (rps = 30), 300);
      else abort.abort();
    }
  })();
  await reading;
  // 300 ms is ten samples of unchanged figures in between: none of them was sent.
  expect(seen).toEqual([0, 12, 30]);
}, 10_000);
