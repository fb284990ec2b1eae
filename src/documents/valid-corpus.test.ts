import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSpecNote, formatSpecWarning, loadDocuments } from './index.js';

// Argo Rollouts' documented shapes and the seed articles' scenarios: each loads with no error.
// EXPECTED-WARNINGS.txt lists, one per line, every warning the corpus gives (Argo fields left out).
const dir = fileURLToPath(new URL('../../test/fixtures/documents/valid/', import.meta.url));
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

  it('runs an Argo step with several fields as consecutive steps, moving startingStep with them, and says so', () => {
    const result = load('argo-multi-field-steps.yaml');
    const rollout = result.documents[0];
    if (rollout?.kind !== 'Rollout') throw new Error('expected a Rollout');
    const canary = rollout.doc.spec.strategy.canary!;
    expect(canary.steps).toEqual([
      { setHeaderRoute: { name: 'debug', match: [{ headerName: 'trace', headerValue: { exact: 'debug' } }] } },
      { setCanaryScale: { replicas: 1 } },
      { setHeaderRoute: { name: 'debug' } },
      { setCanaryScale: { weight: 50 } },
      { pause: {} },
      { setWeight: 50 },
      { pause: { duration: '10s' } },
    ]);
    // Argo's step 2 (setWeight: 50) is graylane's step 5.
    expect(canary.analysis?.startingStep).toBe(5);
    expect(result.notes.map(formatSpecNote)).toEqual([
      'argo-multi-field-steps.yaml:30: spec.strategy.canary.steps[0] has setCanaryScale, setHeaderRoute: graylane runs it as 2 steps (setHeaderRoute, setCanaryScale), so step numbers after it are higher than in Argo',
      'argo-multi-field-steps.yaml:36: spec.strategy.canary.steps[1] has pause, setCanaryScale, setHeaderRoute: graylane runs it as 3 steps (setHeaderRoute, setCanaryScale, pause), so step numbers after it are higher than in Argo',
    ]);
  });

  it('keeps {{args.name}} in any metric field for the run to fill in', () => {
    const template = load('argo-args-templating.yaml').documents[0];
    if (template?.kind !== 'AnalysisTemplate') throw new Error('expected an AnalysisTemplate');
    expect(template.doc.spec.metrics[0]).toMatchObject({ interval: '{{args.every}}', initialDelay: '{{ args.every }}', count: '{{args.times}}', failureLimit: '{{args.times}}' });
  });

  it('loads workloadRef and the job provider as written (they run on Kubernetes)', () => {
    const rollout = load('argo-workload-ref.yaml').documents[0];
    if (rollout?.kind !== 'Rollout') throw new Error('expected a Rollout');
    expect(rollout.doc.spec.workloadRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'referenced', scaleDown: 'progressively' });
    const template = load('argo-job-provider.yaml').documents[0];
    if (template?.kind !== 'AnalysisTemplate') throw new Error('expected an AnalysisTemplate');
    expect(Object.keys(template.doc.spec.metrics[0]!.provider)).toEqual(['job']);
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
