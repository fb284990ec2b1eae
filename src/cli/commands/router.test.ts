import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startUpstream, until, type Upstream } from '../../../test/fixtures/router/support.js';
import { signalChild } from '../../lib/signal-child.js';

const script = join(import.meta.dirname, '../../../test/fixtures/router/run-router-cli.ts');
const token = 'cli-test-token-0123456789';

interface Run {
  out: string;
  err: string;
  exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
}

function cli(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ROUTER_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    out: '',
    err: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    signal: (s) => signalChild(child, s),
  };
  child.stdout.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (run.err += d.toString()));
  return run;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(a: Upstream, b: Upstream, weight: number): string {
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, tokenEnv: ROUTER_TOKEN }
drainTimeoutMs: 1000
services:
  - name: web
    pathPrefix: /
    stable: v1
    canary: v2
    canaryWeight: ${weight}
    revisions:
      v1: { instances: [{ id: a, address: "${a.address}", ready: true }] }
      v2: { instances: [{ id: b, address: "${b.address}", ready: true }] }
`;
}

describe('graylane router', () => {
  it('exits 2 with file, line, field and reason for a bad config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-router-cli-'));
    const file = join(dir, 'router.yaml');
    writeFileSync(file, 'listen: { host: 127.0.0.1, port: 0 }\nservices:\n  - name: web\n    pathPrefix: /\n    stable: v1\n    canaryWeight: 101\n    revisions: { v1: { instances: [] } }\n');
    const run = cli(['router', '--config', file]);
    expect(await run.exited).toBe(2);
    expect(run.err).toContain('error: invalid router config:');
    expect(run.err).toContain(`${file}:6: services[0].canaryWeight: must be <= 100`);
  });

  it('--check validates without starting', async () => {
    const a = await startUpstream('a');
    const b = await startUpstream('b');
    cleanups.push(() => a.close(), () => b.close());
    const dir = mkdtempSync(join(tmpdir(), 'graylane-router-cli-'));
    const file = join(dir, 'router.yaml');
    writeFileSync(file, config(a, b, 0));
    const run = cli(['router', '--config', file, '--check']);
    expect(await run.exited).toBe(0);
    expect(run.out).toContain('ok, 1 service(s)');
  });

  it('serves the file’s routes, reloads them on SIGHUP and drains on SIGTERM', async () => {
    const a = await startUpstream('a');
    const b = await startUpstream('b');
    cleanups.push(() => a.close(), () => b.close());
    const dir = mkdtempSync(join(tmpdir(), 'graylane-router-cli-'));
    const file = join(dir, 'router.yaml');
    writeFileSync(file, config(a, b, 0));
    const run = cli(['router', '--config', file]);
    cleanups.push(() => run.signal('SIGKILL'));
    await until(() => run.out.includes('listening on'), 20_000, 'router start');
    const [, url, admin] = /listening on (\S+), admin API on (\S+)/.exec(run.out)!;
    expect((await send(`${url!}/`)).body).toBe('a');
    const routes = await send(`${admin!}/routes`, { headers: { authorization: `Bearer ${token}` } });
    expect(JSON.parse(routes.body)).toMatchObject({ services: [{ name: 'web', canaryWeight: 0 }] });
    writeFileSync(file, config(a, b, 100));
    run.signal('SIGHUP');
    await until(() => run.err.includes('reloaded'), 10_000, 'reload');
    expect((await send(`${url!}/`)).body).toBe('b');
    writeFileSync(file, 'services: nope');
    run.signal('SIGHUP');
    await until(() => run.err.includes('reload failed'), 10_000, 'failed reload');
    expect((await send(`${url!}/`)).body).toBe('b');
    run.signal('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.out).toContain('graylane router stopped');
  });
});
