import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSpecError, formatSpecWarning, importArgo, loadDocuments } from './index.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../test/fixtures/documents/valid/${name}`, import.meta.url)), 'utf8');

describe('importArgo', () => {
  it('rewrites the apiVersion, keeps comments, and the result loads as graylane documents', () => {
    const result = importArgo({ text: fixture('argo-bluegreen-analysis.yaml'), file: 'bg.yaml' });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.yaml).toContain('# Blue-green with a smoke test');
    expect(result.yaml).not.toContain('argoproj.io');
    const loaded = loadDocuments({ text: result.yaml, file: 'out.yaml' });
    expect(loaded.errors.map(formatSpecError)).toEqual([]);
    expect(loaded.documents.map((d) => [d.kind, d.name, d.origin])).toEqual([
      ['Rollout', 'guestbook', 'graylane'],
      ['AnalysisTemplate', 'smoke-tests', 'graylane'],
      ['AnalysisTemplate', 'success-rate', 'graylane'],
    ]);
  });

  it('keeps spec.analysis (the AnalysisRun history limits the cluster controller honours)', () => {
    const text = fixture('argo-bluegreen-analysis.yaml').replace(/^spec:\n/m, 'spec:\n  analysis: {successfulRunHistoryLimit: 2, unsuccessfulRunHistoryLimit: 1}\n');
    expect(text).toContain('successfulRunHistoryLimit: 2');
    const result = importArgo({ text, file: 'bg.yaml' });
    expect([result.errors, result.warnings]).toEqual([[], []]);
    const rollout = loadDocuments({ text: result.yaml, file: 'out.yaml' }).documents[0];
    if (rollout?.kind !== 'Rollout') throw new Error('expected a Rollout');
    expect(rollout.doc.spec.analysis).toEqual({ successfulRunHistoryLimit: 2, unsuccessfulRunHistoryLimit: 1 });
  });

  it('removes unsupported fields, lists them, and leaves other kinds out with a note', () => {
    const result = importArgo({ text: fixture('argo-unsupported.yaml') + '---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n', file: 'u.yaml' });
    expect(result.warnings.map(formatSpecWarning)).toEqual([
      'u.yaml:20:7: spec.strategy.canary.antiAffinity: not supported by graylane yet; left out',
      'u.yaml:22:7: spec.strategy.canary.canaryMetadata: not supported by graylane yet; left out',
      'u.yaml:25:9: spec.strategy.canary.trafficRouting.alb: traffic routing through alb is not supported by graylane yet; left out',
      'u.yaml:30:9: spec.strategy.canary.steps[1].experiment: experiment steps are not supported by graylane yet; the step is left out',
      'u.yaml:48:7: spec.metrics[0].provider.datadog: metric provider "datadog" is not supported by graylane yet; metric "integration" is left out',
      'u.yaml:57:5: spec.metrics[1].consecutiveSuccessLimit: not supported by graylane yet; left out',
    ]);
    expect(result.notes.map((n) => n.message)).toEqual(['passed over Service "svc": not a graylane kind']);
    for (const gone of ['experiment', 'antiAffinity', 'canaryMetadata', 'alb', 'datadog:', 'consecutiveSuccessLimit', 'kind: Service']) expect(result.yaml).not.toContain(gone);
    const loaded = loadDocuments({ text: result.yaml, file: 'out.yaml' });
    expect(loaded.errors.map(formatSpecError)).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    const rollout = loaded.documents[0];
    if (rollout?.kind !== 'Rollout') throw new Error('expected a Rollout');
    expect(rollout.doc.spec.strategy.canary?.steps).toEqual([{ setWeight: 20 }, { setCanaryScale: { replicas: 2 } }, { pause: { duration: '1h' } }]);
  });

  it('gives errors and no YAML when the remainder is invalid', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: AnalysisTemplate',
      'metadata: {name: only-datadog}',
      'spec:',
      '  metrics:',
      '  - name: integration',
      '    provider:',
      '      datadog: {query: "avg:errors{*}"}',
    ].join('\n');
    const result = importArgo({ text, file: 'j.yaml' });
    expect(result.yaml).toBe('');
    // Refused naming the provider, not for the "no metrics" that leaving it out would cause.
    expect(result.errors.map(formatSpecError)).toEqual(['j.yaml:8:7: spec.metrics[0].provider.datadog: metric provider "datadog" is not supported yet, and the template has no other metric']);
    expect(result.warnings).toEqual([]);
  });
});
