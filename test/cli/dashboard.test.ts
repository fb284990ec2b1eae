// `graylane dashboard`: the API server answering from a cluster (the fake API server), through the
// real server over loopback HTTP, and the real CLI as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { ClusterApiBackend } from '../../src/cli/cluster/cluster-api-backend.js';
import { resolveClusterTarget } from '../../src/cli/cluster/cluster-target.js';
import type { RolloutStatus } from '../../src/engine/index.js';
import { NAMESPACE, pausedAtStep2, startTestCluster, type TestCluster } from './cluster-fixture.js';
import { signalChild } from '../../src/lib/signal-child.js';

const TOKEN = 'test-sign-in-code';
const engineOf = (stored: Awaited<ReturnType<TestCluster['stored']>>) => stored.status?.graylane?.engine as RolloutStatus | undefined;

let cluster: TestCluster | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.close();
  cluster = undefined;
});

interface Served {
  cluster: TestCluster;
  backend: ClusterApiBackend;
  api: ApiServer;
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** The fake cluster (canary `web` paused at step 2/4), the backend over it, and the real API server. */
async function serve(): Promise<Served> {
  const c = (cluster = await startTestCluster());
  const target = await resolveClusterTarget({ kubeconfig: c.kubeconfigPath, namespace: NAMESPACE }, {});
  const backend = await ClusterApiBackend.start({ target });
  cleanups.push(() => backend.stop());
  const api = await startApiServer({ backend, token: TOKEN });
  cleanups.push(() => api.close());
  const call = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(`${api.url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { cluster: c, backend, api, call };
}

/** Reads server-sent messages until `want` accepts one or `timeoutMs` passes. */
async function untilMessage(url: string, want: (type: string, data: Record<string, unknown>) => boolean, act: () => Promise<void>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' }, signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let acted = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(message)?.[1];
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (type !== undefined && data !== undefined) {
          const parsed = JSON.parse(data) as Record<string, unknown>;
          if (acted && want(type, parsed)) return parsed;
        }
      }
      // The initial views have arrived: the stream is subscribed, now the change.
      if (!acted) {
        acted = true;
        await act();
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('the dashboard\'s API over a cluster', () => {
  it('lists the Rollout with the view `graylane get` shows, and says it is on Kubernetes', async () => {
    const s = await serve();
    const listed = await s.call('GET', '/v1/services');
    expect(listed.status).toBe(200);
    const cli = await s.cluster.run(['get', '--json']);
    expect(cli.code).toBe(0);
    expect(listed.body).toEqual(JSON.parse(cli.out));
    expect(listed.body.services).toEqual([expect.objectContaining({ name: 'web', namespace: NAMESPACE, phase: 'Paused', step: 2, steps: 4 })]);
    expect(s.backend.place).toBe('kubernetes');
  });

  it('promote with the sign-in code moves the Rollout to step 3; without it the answer is 401 and nothing moves', async () => {
    const s = await serve();
    const refused = await s.call('POST', '/v1/services/web/promote', {}, 'wrong-code');
    expect(refused.status).toBe(401);
    expect(engineOf(await s.cluster.stored())?.currentStepIndex).toBe(1);
    const promoted = await s.call('POST', '/v1/services/web/promote', {});
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ name: 'web', step: 3 });
    expect(engineOf(await s.cluster.stored())).toMatchObject({ currentStepIndex: 2, pauseConditions: [] });
  });

  it('an unknown name is 404 naming the services there are', async () => {
    const s = await serve();
    for (const path of ['/v1/services/nope', '/v1/services/nope/history']) {
      const r = await s.call('GET', path);
      expect(r.status).toBe(404);
      expect(r.body.error).toMatchObject({ code: 'NotFound', message: expect.stringContaining('services: web') as unknown });
    }
    expect((await s.call('POST', '/v1/services/nope/promote', {})).status).toBe(404);
  });

  it('a stale expectedVersion is 409 Conflict; an operation that makes no sense is 409 InvalidOperation', async () => {
    const s = await serve();
    const stale = await s.call('POST', '/v1/services/web/pause', { expectedVersion: 99 });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'Conflict', message: expect.stringContaining('changed since you looked') as unknown });
    const retry = await s.call('POST', '/v1/services/web/retry', {});
    expect(retry.status).toBe(409);
    expect(retry.body.error).toMatchObject({ code: 'InvalidOperation' });
  });

  it('apply and logs are refused with the words for a cluster', async () => {
    const s = await serve();
    const applied = await s.call('POST', '/v1/apply', { text: 'x', file: 'x.yaml' });
    expect(applied.status).toBe(409);
    expect(applied.body.error).toMatchObject({ message: expect.stringContaining('apply with kubectl') as unknown });
    const logs = await s.call('GET', '/v1/services/web/logs');
    expect(logs.body.error).toMatchObject({ message: expect.stringContaining('kubectl logs') as unknown });
  });

  it('the event stream sends a status message when the controller moves the Rollout', async () => {
    const s = await serve();
    const view = await untilMessage(s.api.url, (type, data) => type === 'status' && data.name === 'web' && data.step === 3, async () => {
      // What the controller writes when a step advances, through the same state adapter.
      await s.cluster.commit({ ...pausedAtStep2(), phase: 'Progressing', currentStepIndex: 2, pauseConditions: [], controllerPause: false, weights: { canary: 50, stable: 50 } });
    });
    expect(view).toMatchObject({ name: 'web', phase: 'Progressing', step: 3 });
  });

  it('events are the Rollout\'s Kubernetes Events, oldest first with increasing ids, and stream live', async () => {
    const s = await serve();
    const live = await untilMessage(s.api.url, (type, data) => type === 'event' && data.reason === 'RolloutPromoted', async () => {
      expect((await s.call('POST', '/v1/services/web/promote', {})).status).toBe(200);
    });
    expect(live).toMatchObject({ service: 'web', level: 'info', message: expect.any(String) as unknown });
    const listed = (await s.call('GET', '/v1/events')).body.events as Array<{ id: number; reason: string; service: string }>;
    expect(listed.map((e) => e.reason)).toContain('RolloutPromoted');
    expect(listed.every((e) => e.service === 'web')).toBe(true);
    const ids = listed.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    const after = (await s.call('GET', `/v1/events?after=${live.id as number}`)).body.events as unknown[];
    expect(after.length).toBe(listed.filter((e) => e.id > (live.id as number)).length);
  });

  it('plan answers the Rollout\'s rows and what is left from step 2', async () => {
    const s = await serve();
    const plan = await s.backend.plan('web');
    expect(plan.strategy).toBe('canary');
    expect(plan.rows.map((r) => [r.step, r.canaryWeight])).toEqual([[1, 20], [2, 20], [3, 50], [4, 50], [null, 100]].slice(0, plan.rows.length));
    expect(plan.rows.length).toBeGreaterThanOrEqual(4);
    // Two pauses for a person: no finish time is known.
    expect(plan.latestFinishMs).toBeNull();
    expect(plan.remaining).toBeDefined();
    await expect(s.backend.plan('nope')).rejects.toMatchObject({ code: 'NotFound' });
  });
});

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'graylane.js');

/** Collects a child's stdout until `pattern` matches it. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${String(pattern)}; stdout: ${out}; stderr: ${err}`)));
  });
}

describe('graylane dashboard (the CLI)', () => {
  it('prints the URL and a one-time code, serves the cluster with it, and stops on SIGTERM with exit 0', async () => {
    const c = (cluster = await startTestCluster());
    const child = spawn(process.execPath, [BIN, 'dashboard', '--kubeconfig', c.kubeconfigPath, '-n', NAMESPACE, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) signalChild(child, 'SIGKILL');
      await exited;
    });
    const [, url, code] = await waitForOutput(child, /graylane dashboard: (http:\/\/127\.0\.0\.1:[0-9]+)\/ — sign in with code ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\n/);
    expect((await fetch(`${url!}/v1/health`)).status).toBe(200);
    expect((await fetch(`${url!}/v1/services`)).status).toBe(401);
    const listed = await fetch(`${url!}/v1/services`, { headers: { authorization: `Bearer ${code!}` } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { services: Array<{ name: string }> }).services.map((v) => v.name)).toEqual(['web']);
    signalChild(child, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses --all-namespaces with a usage error (exit 2) saying to run one per namespace', async () => {
    const c = (cluster = await startTestCluster());
    const r = await c.run(['dashboard', '-A']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/one per namespace/);
  });

  it('a port in use, or one that is no port, is a usage error (exit 2) saying so', async () => {
    const c = (cluster = await startTestCluster());
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const inUse = await c.run(['dashboard', '--port', String(port)]);
    expect(inUse.code).toBe(2);
    expect(inUse.err).toContain(`port ${port} is in use`);
    const notAPort = await c.run(['dashboard', '--port', 'http']);
    expect(notAPort.code).toBe(2);
    expect(notAPort.err).toContain('--port: "http" is not a port number');
  });

  it('an unreachable cluster exits 3 naming the server', async () => {
    const c = (cluster = await startTestCluster());
    const url = c.server.url;
    await c.server.close();
    const r = await c.run(['dashboard', '--port', '0']);
    expect(r.code).toBe(3);
    expect(r.err).toContain(url);
  });
});
