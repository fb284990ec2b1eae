import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSpecNote, formatSpecWarning, loadDocuments } from './index.js';

// Argo Rollouts' documented shapes and the seed articles' scenarios: each loads with no error.
// EXPECTED-WARNINGS.txt lists, one per line, every warning the corpus gives (Argo fields left out).
const dir = fileURLToPath(new URL('../../test/fixtures/spec/valid/', import.meta.url));
const warnings = readFileSync(`${dir}EXPECTED-WARNINGS.txt`, 'utf8').split('\n').filter((l) => l.trim() !== '');
const cases = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
const load = (file: string) => loadDocuments({ text: readFileSync(`${dir}${file}`, 'utf8'), file });

describe('valid documents', () => {
  it.each(cases)('%s loads with no errors and exactly its expected warnings', (file) => {
    const result = load(file);
    expect(result.errors).toEqual([]);
    expect(result.documents.length).toBeGreaterThan(0);
    expect(result.warnings.map(formatSpecWarning)).toEqual(warnings.filter((l) => l.startsWith(`${file}:`)));
  });

  it('marks Argo documents as such and keeps graylane ones as written', () => {
    expect(load('argo-basic-canary.yaml').documents.map((d) => [d.kind, d.origin, d.apiVersion])).toEqual([['Rollout', 'argo', 'argoproj.io/v1alpha1']]);
    expect(load('app-shop.yaml').documents.map((d) => [d.kind, d.name, d.origin, d.line])).toEqual([['App', 'shop', 'graylane', 2]]);
  });

  it('passes over other kinds with a note naming them', () => {
    expect(load('argo-canary-istio.yaml').notes.map(formatSpecNote)).toEqual([
      'argo-canary-istio.yaml:34: passed over VirtualService "rollouts-demo-vsvc1": not a graylane kind',
      'argo-canary-istio.yaml:48: passed over Service "rollouts-demo-canary": not a graylane kind',
    ]);
  });

  it('leaves unsupported Argo fields out of the loaded document', () => {
    const [rollout, template] = load('argo-unsupported.yaml').documents;
    if (rollout?.kind !== 'Rollout' || template?.kind !== 'AnalysisTemplate') throw new Error('unexpected kinds');
    const canary = rollout.doc.spec.strategy.canary!;
    expect(canary.steps).toEqual([{ setWeight: 20 }, { setCanaryScale: { replicas: 2 } }, { pause: { duration: '1h' } }]);
    expect(canary.trafficRouting).toEqual({});
    expect(canary).not.toHaveProperty('antiAffinity');
    expect(template.doc.spec.metrics.map((m) => m.name)).toEqual(['success-rate']);
  });
});
