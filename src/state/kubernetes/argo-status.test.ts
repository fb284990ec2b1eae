import { describe, expect, it } from 'vitest';
import { inArgoShape } from './argo-status.js';

describe('inArgoShape', () => {
  it("writes observedGeneration as the string Argo's CRD types it, and HPAReplicas for its scale subresource", () => {
    const status = { phase: 'Healthy' as const, observedGeneration: 4, replicas: 3, readyReplicas: 3 };
    expect(inArgoShape(status)).toEqual({ phase: 'Healthy', observedGeneration: '4', replicas: 3, HPAReplicas: 3, readyReplicas: 3 });
    expect(status.observedGeneration).toBe(4);
  });
  it('adds neither when the projection has no generation or replica count', () => {
    expect(inArgoShape({ phase: 'Progressing' })).toEqual({ phase: 'Progressing' });
  });
});
