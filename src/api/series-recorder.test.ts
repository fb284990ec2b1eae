import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../controller/control-plane.js';
import { buildRolloutView, type ServiceView } from '../view/index.js';
import type { ApiBackend } from './api-backend.js';
import { ApiClient } from './client.js';
import { SeriesRecorder, type Every } from './series-recorder.js';
import { startApiServer, type ApiServer } from './server.js';

/** A canary view whose revisions carry the given request rate. */
function view(name: string, rps: number): ServiceView {
  return buildRolloutView({
    name,
    static: false,
    spec: { strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: {} }] } } },
    status: { phase: 'Paused', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 1, pauseConditions: [], message: 'paused' } as never,
    traffic: { stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 25, headerRoutes: [], mirrorRoutes: [] },
    revisions: [{ name: 'aaa', number: 1, instances: [] }, { name: 'bbb', number: 2, instances: [] }],
    stats: { aaa: { requestsPerSecond: rps * 3, errorRate: 0, p99Ms: 8, fallbacks: 0, unreadyServed: 0 }, bbb: { requestsPerSecond: rps, errorRate: 0.1, p99Ms: 12, fallbacks: 0, unreadyServed: 0 } },
  });
}

/** Services whose figures the test moves. */
class Backend implements Pick<ApiBackend, 'list' | 'get'> {
  names = ['api', 'web'];
  rps = 1;
  failing = false;
  list(): ServiceView[] {
    if (this.failing) throw new Error('cluster out of reach');
    return this.names.map((n) => view(n, this.rps));
  }
  get(name: string): ServiceView {
    if (!this.names.includes(name)) throw new ControlPlaneError('NotFound', `no service "${name}"`);
    return view(name, this.rps);
  }
}

/** A timer the test fires by hand. */
function manualTimer(): { every: Every; fire: () => Promise<void>; intervalMs: () => number | undefined; running: () => boolean } {
  let tick: (() => void) | undefined;
  let ms: number | undefined;
  return {
    every: (interval, fn) => {
      ms = interval;
      tick = fn;
      return () => { tick = undefined; };
    },
    fire: async () => {
      tick?.();
      await new Promise((r) => setImmediate(r));
    },
    intervalMs: () => ms,
    running: () => tick !== undefined,
  };
}

describe('the series recorder', () => {
  it('samples every interval and keeps each revision\'s figures, oldest first', async () => {
    const backend = new Backend();
    let now = 10_000;
    const timer = manualTimer();
    const recorder = new SeriesRecorder({ backend, sampleIntervalMs: 1000, windowMs: 5000, nowMs: () => now, every: timer.every });
    recorder.start(); // the first sample, at 10 000
    await new Promise((r) => setImmediate(r));
    expect(timer.intervalMs()).toBe(1000);
    backend.rps = 2;
    now += 1000;
    await timer.fire();
    const series = await recorder.series('api');
    expect(series.intervalMs).toBe(1000);
    expect(series.points.map((p) => p.atMs)).toEqual([10_000, 11_000]);
    expect(series.points.at(-1)!.revisions).toEqual([
      { name: 'aaa', role: 'stable', weight: 75, requestsPerSecond: 6, errorRate: 0, p99Ms: 8 },
      { name: 'bbb', role: 'canary', weight: 25, requestsPerSecond: 2, errorRate: 0.1, p99Ms: 12 },
    ]);
    recorder.stop();
    expect(timer.running()).toBe(false);
  });

  it('keeps only the window, however long it runs', async () => {
    const backend = new Backend();
    let now = 0;
    const timer = manualTimer();
    const recorder = new SeriesRecorder({ backend, sampleIntervalMs: 1000, windowMs: 5000, nowMs: () => now, every: timer.every });
    recorder.start();
    for (let i = 0; i < 50; i++) {
      now += 1000;
      await timer.fire();
    }
    const points = (await recorder.series('web')).points;
    expect(points.map((p) => p.atMs)).toEqual([46_000, 47_000, 48_000, 49_000, 50_000]);
    // A clock that went back cannot make it grow either.
    now = 0;
    for (let i = 0; i < 20; i++) await timer.fire();
    expect((await recorder.series('web')).points).toHaveLength(5);
  });

  it('drops a removed service\'s series, answers the backend\'s NotFound for an unknown name, and leaves a gap while the backend fails', async () => {
    const backend = new Backend();
    let now = 0;
    const timer = manualTimer();
    const recorder = new SeriesRecorder({ backend, sampleIntervalMs: 1000, nowMs: () => now, every: timer.every });
    recorder.start();
    await new Promise((r) => setImmediate(r));
    backend.names = ['api'];
    now += 1000;
    await timer.fire();
    await expect(recorder.series('web')).rejects.toMatchObject({ code: 'NotFound' });
    backend.names = ['api', 'web'];
    expect((await recorder.series('web')).points).toEqual([]);
    backend.failing = true;
    now += 1000;
    await timer.fire();
    backend.failing = false;
    now += 1000;
    await timer.fire();
    expect((await recorder.series('api')).points.map((p) => p.atMs)).toEqual([0, 1000, 3000]);
  });
});

describe('GET /v1/services/{name}/series', () => {
  let server: ApiServer | undefined;
  afterEach(() => server?.close());

  it('fills as the server samples, and is a 404 for an unknown name', async () => {
    const backend = new Backend();
    const full: ApiBackend = { ...{ operate: () => Promise.reject(new Error('unused')), history: () => [], analysis: () => [], events: () => [], subscribe: () => () => undefined }, list: () => backend.list(), get: (n) => backend.get(n) };
    server = await startApiServer({ backend: full, token: 't', sampleIntervalMs: 20 });
    const client = new ApiClient(server.url, 't');
    const deadline = Date.now() + 10_000;
    let points = 0;
    while (points < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      points = (await client.series('api')).points.length;
    }
    expect(points).toBeGreaterThanOrEqual(3);
    const series = await client.series('api');
    expect(series.intervalMs).toBe(20);
    expect(series.points.map((p) => p.revisions.map((r) => r.name))).toContainEqual(['aaa', 'bbb']);
    await expect(client.series('nope')).rejects.toMatchObject({ status: 404, code: 'NotFound' });
  });
});
