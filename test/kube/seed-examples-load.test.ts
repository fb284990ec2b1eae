/**
 * The Istio seeds of examples/kubernetes load as the controller loads them (every traffic provider
 * validating, Istio's among them) with no error and no warning. 004 also runs end to end
 * (seed-004-kubesphere.test.ts); 003's analysis on the cluster comes with its own issue, so here
 * it is checked for what loads today: the template it names, the analysis' args, the Istio block.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFiles } from '../../src/documents/index.js';
import { trafficLoadChecks } from '../../src/traffic/load-checks.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/kubernetes');

describe('examples/kubernetes: the Istio seeds load', () => {
  it.each([
    ['003-istio-90-10-analysis.yaml', ['AnalysisTemplate istio-error-rate', 'Rollout my-service']],
    ['004-kubesphere-istio.yaml', ['Rollout service-a']],
  ])('%s: %j, no error, no warning', async (file, loaded) => {
    const result = await loadFiles([join(EXAMPLES, file)], trafficLoadChecks());
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.documents.map((d) => `${d.kind} ${d.doc.metadata.name}`)).toEqual(loaded);
  });

  it('003 splits 90/10 first and judges the canary Service from that step on', async () => {
    const [, rollout] = (await loadFiles([join(EXAMPLES, '003-istio-90-10-analysis.yaml')], trafficLoadChecks())).documents;
    if (rollout?.kind !== 'Rollout') throw new Error('003 has no Rollout second');
    const canary = rollout.doc.spec.strategy.canary!;
    expect(canary.steps?.[0]).toEqual({ setWeight: 10 });
    expect(canary.analysis).toMatchObject({ startingStep: 1, templates: [{ templateName: 'istio-error-rate' }], args: [{ name: 'service', value: canary.canaryService }] });
  });
});
