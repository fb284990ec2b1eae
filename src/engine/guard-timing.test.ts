import { describe, expect, it } from 'vitest';
import { guardWorstCase, type ClusterGuardTiming } from './guard-timing.js';
import { planRollout } from './plan.js';

const on = (provider: ClusterGuardTiming['provider'], intervalMs = 5000, scrapeIntervalMs = 15_000): ClusterGuardTiming => ({ provider, intervalMs, scrapeIntervalMs });

describe('guardWorstCase: from a failure to all traffic on stable', () => {
  it.each([
    ['single host, defaults', 10, undefined, 12_000],
    ['single host, restart every 30s', 30, undefined, 32_000],
    ['Istio, defaults (15s scrape + 10s + 2×5s + 10s push)', 10, on('istio'), 45_000],
    ['Gateway API, defaults', 10, on('gatewayAPI'), 45_000],
    ['ingress-nginx, defaults (4s sync)', 10, on('nginx'), 39_000],
    ['Service selector, defaults (2s endpoints)', 10, on('serviceSelector'), 37_000],
    ['Istio, 1s guard, 5s scrape', 10, on('istio', 1000, 5000), 27_000],
    ['Istio, restart rounded up to whole ticks (7s at 5s → 10s)', 7, on('istio'), 45_000],
    ['Istio, 30s scrape', 10, on('istio', 5000, 30_000), 60_000],
  ] as const)('%s', (_name, restart, cluster, want) => {
    expect(guardWorstCase(restart, cluster).totalMs).toBe(want);
  });

  it('the plan adds the cluster delays to an unanalysed canary step and says what they are', () => {
    const spec = { replicas: 2, strategy: { canary: { trafficRouting: { istio: { virtualService: { name: 'vs' } } }, steps: [{ setWeight: 20 }, { pause: {} }] } } };
    const p = planRollout({ spec, guard: { restartEverySeconds: 10, cluster: on('istio') } });
    expect(p.worstCaseRollbackMs).toBe(45_000);
    expect(p.rollbackNote).toMatch(/scrape 15s \+ a fresh test within 10s \+ 2 guard ticks of 5s \+ istio propagation 10s/);
  });
});
