/** What an app process sees of the daemon's environment: a minimal set, unless `inheritEnv`. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessTemplate } from '../../documents/schema.js';
import { ProcessRuntime } from './process-runtime.js';

const runtimes: ProcessRuntime[] = [];
const SECRET = 'GRAYLANE_TEST_DAEMON_SECRET';

// The test process stands in for the daemon: its environment holds an operator's credential.
beforeAll(() => {
  process.env[SECRET] = 'hunter2';
  process.env.LC_TIME = 'C.UTF-8';
});
afterAll(() => {
  delete process.env[SECRET];
  delete process.env.LC_TIME;
});
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown({ stopInstances: true })));
});

/** Starts a real child that prints its environment as JSON, and returns what it printed. */
async function childEnvironment(extra: Partial<ProcessTemplate>): Promise<Record<string, string>> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-env-'));
  const runtime = new ProcessRuntime({ stateDir, baseDir: stateDir, logPollMs: 50 });
  runtimes.push(runtime);
  const template: ProcessTemplate = {
    command: [process.execPath, '-e', 'console.log("ENV " + JSON.stringify(process.env)); setInterval(() => {}, 1000)'],
    env: { FROM_TEMPLATE: 'yes' },
    terminationGracePeriodSeconds: 0,
    ...extra,
  };
  await runtime.ensureInstances({ service: 'app', revision: 'r1', template, replicas: 1 });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  try {
    for await (const l of runtime.readLogs({ service: 'app', follow: true, signal: abort.signal })) {
      if (l.line.startsWith('ENV ')) return JSON.parse(l.line.slice(4)) as Record<string, string>;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error('the child printed no environment within 15 s');
}

describe('ProcessRuntime: the environment of app processes', () => {
  it('passes the template env, PATH, HOME, LANG, LC_*, TZ and what graylane sets, but not the daemon\'s secrets', async () => {
    const env = await childEnvironment({});
    expect(env[SECRET]).toBeUndefined();
    expect(env.FROM_TEMPLATE).toBe('yes');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.LC_TIME).toBe('C.UTF-8');
    expect(env.GRAYLANE_SERVICE).toBe('app');
    expect(Number(env.PORT)).toBeGreaterThan(0);
    const allowed = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'FROM_TEMPLATE', 'PORT', 'GRAYLANE_SERVICE', 'GRAYLANE_REVISION', 'GRAYLANE_INSTANCE']);
    // Node may add a few of its own at start-up; nothing else of the daemon's may show up.
    const leaked = Object.keys(env).filter((k) => !allowed.has(k) && !k.startsWith('LC_') && process.env[k] !== undefined);
    expect(leaked).toEqual([]);
  });

  it('passes the daemon\'s whole environment with inheritEnv: true, the template env on top', async () => {
    const env = await childEnvironment({ inheritEnv: true, env: { FROM_TEMPLATE: 'yes', [SECRET]: 'overridden' } });
    expect(env[SECRET]).toBe('overridden');
    const plain = await childEnvironment({ inheritEnv: true });
    expect(plain[SECRET]).toBe('hunter2');
  });
});
