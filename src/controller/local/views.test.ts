import { describe, expect, it } from 'vitest';
import type { RolloutStatus } from '../../engine/index.js';
import type { RevisionStats } from '../../router/contract/index.js';
import type { AppService, RolloutSpec } from '../../documents/schema.js';
import { buildServiceView, type ViewInputs } from './views.js';

const service = { name: 'hello', process: { command: ['node', 'server.js'] } } as unknown as AppService;
const spec: RolloutSpec = { strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: { duration: '30s' } }, { setWeight: 75 }, { pause: {} }] } } };
const stats = (): RevisionStats => ({ requests: 0, failed: 0, fallbacks: 0, requestsPerSecond: 0, latencyMs: { p99: 0 } }) as unknown as RevisionStats;
const status = (s: Partial<RolloutStatus>): RolloutStatus => ({ phase: 'Progressing', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 0, pauseConditions: [], ...s }) as RolloutStatus;
const inputs = (s: Partial<RolloutStatus>, extra: Partial<ViewInputs> = {}): ViewInputs => ({
  service, spec, status: status(s), traffic: undefined, revisions: [], instances: [], stats, desiredRevision: 'bbb', ...extra,
});

describe('buildServiceView', () => {
  it('says when a timed pause ends, as a release does', () => {
    const startedAtMs = Date.parse('2026-01-01T10:00:00Z');
    const v = buildServiceView(inputs({ phase: 'Paused', currentStepIndex: 1, message: 'paused: CanaryPauseStep', pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs }] }));
    expect(v.message).toBe('pausing at step 2/4 until 2026-01-01T10:00:30.000Z');
  });

  it('keeps the engine\'s message for a pause until promoted', () => {
    const v = buildServiceView(inputs({ phase: 'Paused', currentStepIndex: 3, message: 'paused: CanaryPauseStep', pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }] }));
    expect(v.message).toBe('paused: CanaryPauseStep');
  });

  it('lists the header and mirror routes in force', () => {
    const traffic = {
      stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 0,
      headerRoutes: [{ name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] }],
      mirrorRoutes: [{ name: 'shadow', percentage: 20, match: [{ method: { exact: 'GET' } }] }],
    };
    const v = buildServiceView(inputs({}, { traffic }));
    expect(v.routes).toEqual([
      { kind: 'header', name: 'beta', description: 'header route beta: header x-beta=1 → canary' },
      { kind: 'mirror', name: 'shadow', description: 'mirror route shadow: 20% of matching requests copied to canary' },
    ]);
  });
});
