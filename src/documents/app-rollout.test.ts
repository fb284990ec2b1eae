import { describe, expect, it } from 'vitest';
import { UnknownServiceError, rolloutFromAppService } from './index.js';
import type { App } from './index.js';

const app: App = {
  apiVersion: 'graylane.dev/v1alpha1',
  kind: 'App',
  metadata: { name: 'shop' },
  spec: {
    services: [
      { name: 'web', process: { command: ['node', 'web.js'] } },
      { name: 'api', replicas: 3, progressDeadlineSeconds: 60, process: { command: ['node', 'api.js'] }, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } },
      { name: 'bg', process: { command: ['node', 'bg.js'] }, strategy: { blueGreen: { autoPromotionEnabled: false } } },
    ],
  },
};

describe('rolloutFromAppService', () => {
  it('defaults to one replica and a rolling update (canary without steps, no traffic routing)', () => {
    expect(rolloutFromAppService(app, 'web')).toEqual({ replicas: 1, strategy: { canary: {} } });
  });

  it('routes a canary with steps through the built-in router, keeping the rest', () => {
    expect(rolloutFromAppService(app, 'api')).toEqual({
      replicas: 3,
      progressDeadlineSeconds: 60,
      strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }], trafficRouting: { builtin: {} } } },
    });
    expect(app.spec.services[1]!.strategy!.canary).not.toHaveProperty('trafficRouting');
  });

  it('takes a service object too, and keeps blue-green as it is', () => {
    expect(rolloutFromAppService(app, app.spec.services[2]!)).toEqual({ replicas: 1, strategy: { blueGreen: { autoPromotionEnabled: false } } });
  });

  it('carries rollbackWindow to the rollout, so undo to a recent revision skips the steps', () => {
    const svc = { name: 'web', rollbackWindow: { revisions: 2 }, process: { command: ['node', 'web.js'] } };
    expect(rolloutFromAppService(app, svc)).toEqual({ replicas: 1, strategy: { canary: {} }, rollbackWindow: { revisions: 2 } });
  });

  it('throws a typed error for a service the App does not have', () => {
    expect(() => rolloutFromAppService(app, 'nope')).toThrow(UnknownServiceError);
    expect(() => rolloutFromAppService(app, 'nope')).toThrow('App "shop" has no service "nope"');
  });
});
