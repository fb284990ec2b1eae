import { describe, expect, it } from 'vitest';
import { loadDocuments } from './index.js';

const rollout = (prometheus: string) => `apiVersion: graylane.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: web:2}]}}
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      trafficRouting: {plugins: {argoproj-labs/gatewayAPI: {httpRoute: web}}}
      guard:
        prometheus: ${prometheus}
      steps: [{setWeight: 10}]
`;

describe('guard query templates are checked when a document loads', () => {
  it('accepts templates that name the revision or the Service', () => {
    const r = loadDocuments({ text: rollout('{requests: \'sum(x{svc="{{service}}"})\', errors: \'sum(y{rev="{{ revision }}"})\'}'), file: 'r.yaml' });
    expect(r.errors).toEqual([]);
  });

  it.each([
    ['a misspelt placeholder', '{requests: \'sum(x{svc="{{servce}}"})\', errors: \'sum(y{svc="{{service}}"})\'}', 'spec.strategy.canary.guard.prometheus.requests', 'unknown placeholder {{servce}}'],
    ['a template that cannot tell the sides apart', '{requests: \'sum(x{svc="{{service}}"})\', errors: \'sum(y{ns="{{namespace}}"})\'}', 'spec.strategy.canary.guard.prometheus.errors', 'names neither {{revision}} nor {{service}}'],
  ])('refuses %s, with the field', (_name, prometheus, path, message) => {
    const r = loadDocuments({ text: rollout(prometheus), file: 'r.yaml' });
    expect(r.errors.map((e) => e.toJSON())).toEqual([expect.objectContaining({ path, message: expect.stringContaining(message) as unknown })]);
  });
});
