import { describe, expect, it } from 'vitest';
import type { StoredRevision } from '../../state/store.js';
import { HookEnvironmentError, hookEnvironment } from './hook-environment.js';

const revisions: StoredRevision[] = [
  { service: 'api', name: 'r1', number: 1, createdAtMs: 1, template: { command: ['node', 'server.js'], cwd: '/srv/api', env: { DATABASE_URL: 'postgres://db/shop' } } },
  { service: 'api', name: 'r2', number: 2, createdAtMs: 2, template: { command: ['node', 'server.js'], cwd: '/srv/api', inheritEnv: true } },
  { service: 'edge', name: 't1', number: 1, createdAtMs: 1, template: { targets: ['127.0.0.1:9'] } },
];
const store = { listRevisions: (service: string) => revisions.filter((r) => r.service === service) };
const daemonEnv = { PATH: '/usr/bin', HOME: '/home/op', AWS_SECRET_ACCESS_KEY: 'secret' };

describe('hookEnvironment', () => {
  it('is the revision\'s directory and environment, plus which service, revision and hook; no daemon secret', () => {
    expect(hookEnvironment({ store, service: 'api', revision: 'r1', hook: 'preRollout', daemonEnv })).toEqual({
      cwd: '/srv/api',
      baseEnv: { PATH: '/usr/bin', HOME: '/home/op', DATABASE_URL: 'postgres://db/shop', GRAYLANE_SERVICE: 'api', GRAYLANE_REVISION: 'r1', GRAYLANE_HOOK: 'preRollout' },
    });
  });

  it('passes the daemon\'s whole environment only when the revision asks for it (inheritEnv)', () => {
    expect(hookEnvironment({ store, service: 'api', revision: 'r2', hook: 'postPromotion', daemonEnv }).baseEnv).toMatchObject({ AWS_SECRET_ACCESS_KEY: 'secret', GRAYLANE_HOOK: 'postPromotion' });
  });

  it('refuses a revision without a process the daemon knows, naming it', () => {
    for (const [service, revision] of [['api', 'gone'], ['edge', 't1']] as const) {
      const run = () => hookEnvironment({ store, service, revision, hook: 'preRollout', daemonEnv });
      expect(run).toThrow(HookEnvironmentError);
      expect(run).toThrow(`preRollout hook: revision ${revision} of service "${service}" has no process the daemon knows`);
    }
  });
});
