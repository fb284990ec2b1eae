import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { describeRuntimeConformance } from '../runtime.case.test.js';
import type { InstanceChange } from '../runtime.js';
import { waitForInstances } from '../wait.js';
import { parseTarget, StaticRuntime, type StaticTemplate } from './static-runtime.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function server(status = 200): Promise<{ address: string; close: () => Promise<unknown> }> {
  const s = http.createServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const close = () => new Promise((r) => { s.closeAllConnections(); s.close(r); });
  cleanups.push(close);
  return { address: `127.0.0.1:${(s.address() as net.AddressInfo).port}`, close };
}

function runtime(): StaticRuntime {
  const rt = new StaticRuntime({ tcpProbe: { periodMs: 100, periodUntilPassMs: 100, failureThreshold: 2 } });
  cleanups.push(() => rt.shutdown({ stopInstances: false }));
  return rt;
}

describe('parseTarget', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['api.internal:80', 'api.internal', 80],
    ['[::1]:9000', '::1', 9000],
  ] as const)('%s → %s %i', (t, host, port) => expect(parseTarget(t)).toEqual({ host, port }));
  it.each(['127.0.0.1', ':80', 'host:0', 'host:70000', 'a b:80', 'host:port'])('rejects %j', (t) =>
    expect(() => parseTarget(t)).toThrow(/is not host:port with a port between 1 and 65535/));
});

describe('StaticRuntime', () => {
  it('marks a target unready when it stops answering, and ready when it comes back', async () => {
    const rt = runtime();
    const a = await server();
    await rt.ensureInstances({ service: 's', revision: 'r', template: { targets: [a.address] }, replicas: 1 });
    await waitForInstances(rt, (l) => l[0]?.state === 'ready', { timeoutMs: 10_000 });
    await a.close();
    const [down] = await waitForInstances(rt, (l) => l[0]?.state === 'unready', { timeoutMs: 10_000 });
    expect(down!.lastError).toMatch(/readiness probe failed: TCP connect to 127\.0\.0\.1:\d+ failed: ECONNREFUSED/);
    const port = Number(a.address.split(':')[1]);
    const again = http.createServer((_q, res) => res.end());
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => again.close(r)));
    await waitForInstances(rt, (l) => l[0]?.state === 'ready', { timeoutMs: 10_000 });
  });

  it('uses the HTTP readiness probe when given', async () => {
    const rt = runtime();
    const sick = await server(503);
    await rt.ensureInstances({
      service: 's', revision: 'r', replicas: 1,
      template: { targets: [sick.address], readinessProbe: { httpGet: { path: '/health' }, periodSeconds: 0.1, failureThreshold: 1 } },
    });
    const [inst] = await waitForInstances(rt, (l) => l[0]?.state === 'unready', { timeoutMs: 10_000 });
    expect(inst!.lastError).toBe('readiness probe failed: GET /health returned HTTP 503');
  });

  it('cannot scale: replicas must match the targets', async () => {
    const rt = runtime();
    const a = await server();
    await expect(rt.ensureInstances({ service: 's', revision: 'r', template: { targets: [a.address] }, replicas: 3 })).rejects.toThrow(
      'the static runtime cannot scale s to 3 instances: it has exactly the 1 targets listed in the App file',
    );
  });

  it('stops watching a revision scaled to 0, leaving the target alone', async () => {
    const rt = runtime();
    const a = await server();
    const changes: InstanceChange[] = [];
    rt.on('change', (c) => changes.push(c));
    await rt.ensureInstances({ service: 's', revision: 'r', template: { targets: [a.address] }, replicas: 1 });
    await waitForInstances(rt, (l) => l[0]?.state === 'ready', { timeoutMs: 10_000 });
    expect(await rt.ensureInstances({ service: 's', revision: 'r', template: { targets: [a.address] }, replicas: 0 })).toEqual([]);
    expect(rt.listInstances()).toEqual([]);
    expect(changes.at(-1)).toMatchObject({ previousState: 'ready', instance: { state: 'stopped' } });
    expect((await fetch(`http://${a.address}/`)).status).toBe(200);
  });

  it('rejects bad targets and an empty list with a clear error', async () => {
    const rt = runtime();
    await expect(rt.ensureInstances({ service: 's', revision: 'r', template: { targets: ['nope'] }, replicas: 1 })).rejects.toMatchObject({
      code: 'RuntimeInput', message: 'target "nope" is not host:port with a port between 1 and 65535',
    });
    await expect(rt.ensureInstances({ service: 's', revision: 'r', template: { targets: [] }, replicas: 0 })).rejects.toThrow('static service s/r lists no targets');
  });
});

describeRuntimeConformance<StaticTemplate>('static', async () => {
  const targets = [(await server()).address, (await server()).address];
  return {
    runtime: new StaticRuntime({ tcpProbe: { periodMs: 100 } }),
    template: { targets },
    replicas: targets.length,
    // The servers are closed by this file's afterEach.
    dispose: () => Promise.resolve(),
  };
});
