/** The backendRef weights a Gateway API route gets, on the rollout's weight scale. */
import { describe, expect, it } from 'vitest';
import { planRules, type RouteRule } from './route-rules.js';

const rule: RouteRule = { backendRefs: [{ name: 'shop-stable', port: 80, weight: 100 }, { name: 'shop-canary', port: 80, weight: 0 }] };

describe('planRules: weights', () => {
  it.each<[number | undefined, number, [number, number]]>([
    [undefined, 20, [80, 20]],
    [1000, 200, [800, 200]],
    [1000, 1000, [0, 1000]],
    [1000, 1200, [0, 1000]],
  ])('scale %s, canary weight %i → stable and canary backendRef weights %j', (maxWeight, canaryWeight, expected) => {
    const plan = planRules([rule], { kind: 'HTTPRoute', rollout: 'shop', canaryService: 'shop-canary', stableService: 'shop-stable', canaryWeight, maxWeight, headerRoutes: [], mirrorRoutes: [] });
    if (!plan.ok) throw new Error('expected rules to write');
    expect(plan.rules[0]!.backendRefs!.map((b) => b.weight)).toEqual(expected);
  });
});
