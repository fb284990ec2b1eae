import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pinnedSide } from '../../test/fixtures/router/release.js';
import { send, startUpstream, until } from '../../test/fixtures/router/support.js';
import { parseRouterConfig } from './config.js';
import { RouterError } from './errors.js';
import { signalChild } from '../lib/signal-child.js';

const script = join(import.meta.dirname, '../../test/fixtures/router/run-router-cli.ts');

const yaml = (web: string, api: string) => `listen: { host: 127.0.0.1, port: 0 }
drainTimeoutMs: 500
services:
  - name: web
    pathPrefix: /
    stable: v1
    canaryWeight: 0
    revisions:
      v1: { instances: [{ id: w1, address: "${web}", ready: true }] }
  - name: api
    pathPrefix: /api
    stable: v1
    canaryWeight: 0
    revisions:
      v1: { instances: [{ id: a1, address: "${api}", ready: true }] }
releases:
  - name: shop
    services: [web, api]
    generation: g1
    canaryWeight: 0
    phase: progressing
    cookie: graylane-release
    header: x-graylane-release
    secret: a-release-secret-of-32-characters
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('router config with releases', () => {
  it('loads releases into the route table', () => {
    const c = parseRouterConfig(yaml('127.0.0.1:3000', '127.0.0.1:3001'), 'router.yaml', {});
    expect(c.routes.releases).toEqual([expect.objectContaining({ name: 'shop', services: ['web', 'api'], phase: 'progressing' })]);
  });

  it.each([
    ['an unknown member', (t: string) => t.replace('services: [web, api]', 'services: [web, cart]'), 'router.yaml:18: releases[0].services[1]: names service "cart", which is not in services'],
    ['a short secret', (t: string) => t.replace('a-release-secret-of-32-characters', 'short'), 'router.yaml:24: releases[0].secret: must be at least 16 characters'],
    ['a weight out of range', (t: string) => t.replace('    canaryWeight: 0\n    phase', '    canaryWeight: 250\n    phase'), 'router.yaml:20: releases[0].canaryWeight: must be <= 100'],
    ['a bad asset pattern', (t: string) => `${t}    assetPattern: "[a-"\n`, 'router.yaml:25: releases[0].assetPattern: is not a valid regular expression'],
  ])('rejects %s with file, line, field and reason', (_what, edit, expected) => {
    let err: unknown;
    try {
      parseRouterConfig(edit(yaml('127.0.0.1:3000', '127.0.0.1:3001')), 'router.yaml', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RouterError);
    expect((err as RouterError).message).toContain(expected);
  });

  it('graylane router --config serves a release: pins and hands out the token', async () => {
    const [web, api] = await Promise.all([startUpstream('web-v1'), startUpstream('api-v1')]);
    cleanups.push(() => web.close(), () => api.close());
    const file = join(mkdtempSync(join(tmpdir(), 'graylane-router-release-')), 'router.yaml');
    writeFileSync(file, yaml(web.address, api.address));
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'router', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    cleanups.push(async () => {
      signalChild(child, 'SIGTERM');
      await exited;
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /listening on (http:\/\/\S+)/.test(out), 30_000, 'the router to listen');
    const url = /listening on (http:\/\/[^\s,]+)/.exec(out)![1]!;
    const reply = await send(`${url}/api/x`);
    expect(reply.body).toBe('api-v1');
    expect(pinnedSide(reply)).toBe('stable');
  }, 60_000);
});
