/** A failing instance explains itself: restarts since it was ready, how it last exited, its last probe. */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessTemplate } from '../../documents/schema.js';
import { waitForInstances } from '../wait.js';
import { ProcessRuntime } from './process-runtime.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/runtime');
const runtimes: ProcessRuntime[] = [];

function makeRuntime(): ProcessRuntime {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-explain-'));
  const runtime = new ProcessRuntime({ baseDir: fixtures, stateDir, backoff: { initialMs: 50, maxMs: 200 } });
  runtimes.push(runtime);
  return runtime;
}

const template = (env: Record<string, string>): ProcessTemplate => ({
  command: [process.execPath, 'server.mjs'],
  env,
  readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 0.1, failureThreshold: 2 },
  terminationGracePeriodSeconds: 1,
});

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown({ stopInstances: true })));
});

describe('instance info of a failing instance', () => {
  it('an app that exits at once: its restarts since ready and its last exit code are reported', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ EXIT_AT_ONCE: '1' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => (l[0]?.restartsSinceReady ?? 0) >= 3 && l[0]?.lastExit !== undefined, { timeoutMs: 20_000 });
    expect(inst!.restartsSinceReady).toBe(inst!.restarts);
    expect(inst!.lastExit).toMatchObject({ code: 2, signal: null });
    expect(inst!.lastExit!.atMs).toBeLessThanOrEqual(Date.now());
  });

  it('an app whose readiness answers 503: it is unready with the last probe result, never restarted', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ FAIL_READINESS: '1' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'unready', { timeoutMs: 20_000 });
    expect(inst!.lastProbe).toMatchObject({ outcome: 'fail', detail: 'GET /ready returned HTTP 503' });
    expect(inst!.restarts).toBe(0);
    expect(inst!.lastExit).toBeUndefined();
  });

  it('becoming ready again sets the restarts since ready back to 0, the lifetime count stays', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ CRASH_AFTER_MS: '400' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => (l[0]?.restarts ?? 0) >= 1 && l[0]?.state === 'ready', { timeoutMs: 20_000 });
    expect(inst!.restartsSinceReady).toBe(0);
    expect(inst!.lastExit).toMatchObject({ code: 3, signal: null });
    expect(inst!.lastProbe?.outcome).toBe('pass');
  });
});
