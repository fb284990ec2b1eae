import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRouterConfig, parseRouterConfig } from './config.js';
import { RouterError } from './errors.js';

const fixture = join(import.meta.dirname, '../../test/fixtures/router/router.yaml');
const env = { GRAYLANE_ROUTER_TOKEN: 'a-token-of-32-characters-......' };

function problem(text: string, environment: Record<string, string> = env): RouterError {
  try {
    parseRouterConfig(text, 'router.yaml', environment);
  } catch (err) {
    if (err instanceof RouterError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const base = `listen: { host: 127.0.0.1, port: 8080 }
services:
  - name: web
    pathPrefix: /
    stable: v1
    canaryWeight: 0
    revisions:
      v1:
        instances:
          - { id: a, address: "127.0.0.1:3000", ready: true }
`;

describe('router config', () => {
  it('loads the example file and resolves the token from the environment', async () => {
    const c = await loadRouterConfig(fixture, env);
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 0, token: env.GRAYLANE_ROUTER_TOKEN, metricsWithoutToken: false });
    expect(c.routes.services[0]).toMatchObject({ name: 'web', canaryWeight: 20, canary: 'web-b2' });
    expect(c.timeouts).toEqual({ connectMs: 1000, responseHeaderMs: 10000, idleMs: 30000 });
    expect(c.drainTimeoutMs).toBe(5000);
  });

  it('accepts a minimal config', () => {
    expect(parseRouterConfig(base, 'router.yaml').listen).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it.each([
    ['a weight over 100', base.replace('canaryWeight: 0', 'canaryWeight: 120'), 'router.yaml:6: services[0].canaryWeight: must be <= 100'],
    ['an unknown field', base.replace('    stable: v1', '    stabel: v1\n    stable: v1'), 'router.yaml:5: services[0].stabel: unknown field'],
    ['a missing field', base.replace('    pathPrefix: /\n', ''), 'router.yaml:3: services[0].pathPrefix: is required'],
    ['an unknown revision', base.replace('stable: v1', 'stable: v9'), 'router.yaml:5: services[0].stable: names revision "v9", which is not in revisions'],
    ['a weight without canary', base.replace('canaryWeight: 0', 'canaryWeight: 10'), 'router.yaml:6: services[0].canaryWeight: must be 0 when there is no canary'],
    ['a bad address', base.replace('127.0.0.1:3000', 'localhost'), 'router.yaml:10: services[0].revisions.v1.instances[0].address: "localhost" is not host:port'],
    ['a bad regex', base.replace('    revisions:', '    matches: [{ match: [{ headerName: x, headerValue: { regex: "(" } }], revision: v1 }]\n    revisions:'), 'router.yaml:7: services[0].matches[0].match[0].headerValue.regex: is not a valid regular expression'],
    ['two matchers in one', base.replace('    revisions:', '    matches: [{ match: [{ headerName: x, headerValue: { exact: a, prefix: b } }], revision: v1 }]\n    revisions:'), 'services[0].matches[0].match[0].headerValue: needs exactly one of exact, prefix, regex'],
    ['a non-loopback admin', `${base}admin: { host: 0.0.0.0, port: 1, token: "0123456789abcdef" }\n`, 'router.yaml:11: admin.host: must be a loopback address'],
    ['a short token', `${base}admin: { host: 127.0.0.1, port: 1, token: short }\n`, 'admin.token: must NOT have fewer than 16 characters'],
    ['a missing token variable', `${base}admin: { host: 127.0.0.1, port: 1, tokenEnv: NOPE }\n`, 'router.yaml:11: admin.tokenEnv: environment variable NOPE must hold a token'],
    ['duplicate services', base + base.split('services:\n')[1]!, 'router.yaml:11: services[1].name: duplicates service "web"'],
    ['YAML syntax', 'listen: [', 'router.yaml:1: (root): YAML:'],
    ['a duplicate key', 'listen: 1\nlisten: 2\n', 'router.yaml:2: (root): YAML: Map keys must be unique'],
  ])('rejects %s with file, line, field and reason', (_what, text, expected) => {
    const err = problem(text);
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain(expected);
  });

  it('reports every problem at once', () => {
    const err = problem(base.replace('canaryWeight: 0', 'canaryWeight: 120').replace('port: 8080', 'port: -1'));
    expect(err.issues.map((i) => i.line)).toEqual([1, 6]);
  });

  it('says so when the file cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-router-config-'));
    await expect(loadRouterConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read .*missing\.yaml/);
    writeFileSync(join(dir, 'ok.yaml'), base);
    await expect(loadRouterConfig(join(dir, 'ok.yaml'))).resolves.toMatchObject({ listen: { port: 8080 } });
  });
});
