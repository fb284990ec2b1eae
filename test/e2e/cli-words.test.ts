/** The CLI's words against a real daemon: what operations, status, get, set weight and logs say. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

const canary = [
  '      canary:',
  '        steps:',
  '        - setWeight: 10',
  '        - setHeaderRoute: {name: beta, match: [{headerName: x-beta, headerValue: {exact: "1"}}]}',
  '        - pause: {}',
  '        - setWeight: 50',
  '        - pause: {duration: 1h}',
  '        scaleDownDelaySeconds: 0',
].join('\n');
let d: Daemon;
let dir: string;
let file: string;

async function view(): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', 'app', '--json'])).out) as ServiceView;
}

beforeAll(async () => {
  dir = appDir();
  file = writeApp(dir, { version: 'v1', strategy: canary });
  d = await startDaemon(dir);
  await waitFor(async () => (await view()).phase === 'Healthy', 20_000, 'v1 healthy');
  writeApp(dir, { version: 'v2', strategy: canary });
  expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => (await view()).phase === 'Paused', 20_000, 'v2 paused at step 3');
}, 45_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('the CLI\'s words', () => {
  it('status without a service lists every one, as get does', async () => {
    const r = await cli(d.stateDir, ['status']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/NAME\s+STRATEGY\s+PHASE/);
    expect(r.out).toMatch(/app\s+canary\s+Paused\s+3\/5/);
    const watch = await cli(d.stateDir, ['status', '--watch']);
    expect(watch.code).toBe(2);
    expect(watch.err).toContain('name the service');
  });

  it('status and get show the header route in force', async () => {
    expect((await cli(d.stateDir, ['status', 'app'])).out).toContain('route in force: header route beta: header x-beta=1 → canary');
    expect((await cli(d.stateDir, ['get'])).out).toMatch(/app\s+.*header beta/);
  });

  it.each([[''], ['1e1'], [' 5'], ['0x10'], ['101']])('set weight refuses %j with a sentence (exit 2) and changes nothing', async (percent) => {
    const r = await cli(d.stateDir, ['set', 'weight', 'app', percent]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('weight must be a whole number from 0 to 100');
    expect((await view()).revisions.map((x) => x.weight)).toEqual([90, 10]);
  });

  it('logs of a revision that does not exist says so (exit 2)', async () => {
    const r = await cli(d.stateDir, ['logs', 'app', '--revision', '99']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('app has no revision #99: `graylane history app` lists its revisions');
    const byName = await cli(d.stateDir, ['logs', 'app', '--revision', 'nosuch']);
    expect(byName.code).toBe(2);
    expect((await cli(d.stateDir, ['logs', 'app', '--revision', '2', '--tail', '1'])).code).toBe(0);
  });

  it('an operation prints the state after it: promote shows the step it moved to and its weight', async () => {
    const r = await cli(d.stateDir, ['promote', 'app', '--json']);
    expect(r.code).toBe(0);
    const after = JSON.parse(r.out) as ServiceView;
    expect(after.step).toBeGreaterThanOrEqual(4);
    expect(after.revisions.map((x) => x.weight)).toEqual([50, 50]);
  });

  it('a timed pause says when it ends', async () => {
    const v = await waitFor(async () => { const x = await view(); return x.step === 5 && x.phase === 'Paused' ? x : undefined; }, 20_000, 'paused at step 5');
    expect(v.message).toMatch(/^pausing at step 5\/5 until \d{4}-\d\d-\d\dT/);
  });

  it('after completion status shows no step 0/5', async () => {
    expect((await cli(d.stateDir, ['promote', 'app', '--full'])).code).toBe(0);
    expect((await cli(d.stateDir, ['status', 'app', '--wait', '--timeout', '30s'])).code).toBe(0);
    const r = await cli(d.stateDir, ['status', 'app']);
    expect(r.out.split('\n')[0]).toMatch(/^app \(canary\)\s+(Healthy|Completed)$/);
    expect(r.out).not.toContain('route in force');
  });
});
