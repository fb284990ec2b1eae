/** `validate` warns about routes that reach no canary and notes that a match-less mirror route removes it. */
import { describe, expect, it } from 'vitest';
import { formatSpecNote, formatSpecWarning, loadDocuments } from './index.js';

const app = (steps: string) => `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: a}
spec:
  services:
  - name: web
    replicas: 2
    process: {command: [node, server.js]}
    strategy:
      canary:
        steps:
${steps}`;
const load = (steps: string) => loadDocuments({ text: app(steps), file: 'g.yaml' });

describe('route advice in validate', () => {
  it('a header route in force during a pause while the canary has no instance: a warning with the fix', () => {
    const result = load(`        - setHeaderRoute: {name: testers, match: [{headerName: x-tester, headerValue: {exact: "1"}}]}
        - pause: {}
`);
    expect(result.errors).toEqual([]);
    expect(result.warnings.map(formatSpecWarning)).toEqual([
      'g.yaml:12:11: spec.services[0].strategy.canary.steps[0].setHeaderRoute: route "testers" is still in force at steps[1] (pause) while the canary has no instance (weight 0, no setCanaryScale): requests matching it are served by stable, so testers do not reach the new revision; add a step {setCanaryScale: {replicas: 1}} before it',
    ]);
  });

  it.each([
    ['setCanaryScale replicas before the pause', '        - setCanaryScale: {replicas: 1}\n'],
    ['a weight before it', '        - setWeight: 10\n'],
  ])('no warning once the canary has an instance: %s', (_n, before) => {
    const result = load(`${before}        - setHeaderRoute: {name: testers, match: [{headerName: x-tester, headerValue: {exact: "1"}}]}
        - pause: {}
`);
    expect(result.warnings).toEqual([]);
  });

  it('no warning for a header route removed before the rollout waits', () => {
    const result = load(`        - setHeaderRoute: {name: t, match: [{headerName: x, headerValue: {exact: "1"}}]}
        - setHeaderRoute: {name: t}
        - pause: {}
`);
    expect(result.warnings).toEqual([]);
  });

  it('setMirrorRoute without match: a note that it removes the route (and that nothing set it)', () => {
    const result = load(`        - setCanaryScale: {replicas: 1}
        - setMirrorRoute: {name: shadow, match: [{method: {exact: GET}}]}
        - pause: {duration: 1m}
        - setMirrorRoute: {name: shadow}
        - setMirrorRoute: {name: other}
`);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.notes.map(formatSpecNote)).toEqual([
      'g.yaml:15: spec.services[0].strategy.canary.steps[3].setMirrorRoute: setMirrorRoute without match removes mirror route "shadow"; to mirror every request, give a match such as [{path: {prefix: /}}]',
      'g.yaml:16: spec.services[0].strategy.canary.steps[4].setMirrorRoute: setMirrorRoute without match removes mirror route "other", which no earlier step sets: nothing is mirrored; to mirror every request, give a match such as [{path: {prefix: /}}]',
    ]);
  });
});
