import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError, documentReference, formatSpecError, loadDocuments, loadFiles } from './index.js';

const rollout = (template: string) => `apiVersion: graylane.dev/v1alpha1
kind: Rollout
metadata: {name: demo}
spec:
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec: {containers: [{name: demo, image: "demo:v1"}]}
  strategy:
    canary:
      steps:
      - analysis: {templates: [{templateName: ${template}}]}
`;
const template = `apiVersion: graylane.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  metrics:
  - name: ok
    provider: {web: {url: "http://127.0.0.1:1/"}}
`;

describe('loadFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-spec-'));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('resolves analysis templates across the files loaded together', async () => {
    const r = await loadFiles([write('r.yaml', rollout('success-rate')), write('t.yaml', template)]);
    expect(r.errors).toEqual([]);
    expect(r.documents.map((d) => `${d.kind}/${d.name}`)).toEqual(['Rollout/demo', 'AnalysisTemplate/success-rate']);
  });

  it('does not check references when no template was loaded (they live elsewhere)', async () => {
    const r = await loadFiles([write('alone.yaml', rollout('anything'))]);
    expect(r.errors).toEqual([]);
  });

  it('reports a missing reference with the file it is in', async () => {
    const r = await loadFiles([write('r2.yaml', rollout('error-rate')), write('t2.yaml', template)]);
    expect(r.errors.map(formatSpecError)).toEqual([`${join(dir, 'r2.yaml')}:12:47: spec.strategy.canary.steps[0].analysis.templates[0].templateName: no AnalysisTemplate "error-rate" in the files loaded`]);
  });

  it('reports a file it cannot read, and loads nothing', async () => {
    const missing = join(dir, 'missing.yaml');
    const r = await loadFiles([write('ok.yaml', template), missing]);
    expect(r.errors.map(formatSpecError)).toEqual([`${missing}:1:1: cannot read: no such file`]);
    expect(r.errors[0]).toBeInstanceOf(SpecError);
    expect(r.errors[0]!.code).toBe('read');
    expect(r.documents).toEqual([]);
  });
});

describe('loadDocuments', () => {
  it('loads nothing when any document is bad, even if others are fine', () => {
    const r = loadDocuments({ text: `${template}---\n${template.replace('success-rate', 'Bad_Name')}`, file: 'two.yaml' });
    expect(r.documents).toEqual([]);
    expect(r.errors.map((e) => e.toJSON())).toEqual([
      { code: 'schema', file: 'two.yaml', line: 11, column: 18, path: 'metadata.name', message: 'expected a DNS label: lower case letters, digits and -, found "Bad_Name"' },
    ]);
  });

  it('a notifications receiver with both url and urlFrom, or a secret with two sources, is an error at its line and field', () => {
    const text = `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: a}
spec:
  services: [{name: x, targets: ['127.0.0.1:1']}]
  notifications:
    receivers:
    - {name: r, type: webhook, url: 'http://h', urlFrom: {fromEnv: U}}
    - {name: s, type: slack, url: 'http://h', headers: {X-Token: {value: a, fromEnv: T}}}
`;
    const r = loadDocuments({ text, file: 'n.yaml' });
    expect(r.errors.map(formatSpecError)).toEqual([
      'n.yaml:8:7: spec.notifications.receivers[0]: a receiver has exactly one of url, urlFrom',
      'n.yaml:9:57: spec.notifications.receivers[1].headers.X-Token: exactly one of value, fromEnv, fromFile; found 2',
    ]);
  });

  it('skips empty documents and reads JSON', () => {
    const json = JSON.stringify({ apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'a' }, spec: { services: [{ name: 'x', targets: ['127.0.0.1:1'] }] } });
    const r = loadDocuments({ text: `---\n---\n${json}\n`, file: 'a.json' });
    expect(r.errors).toEqual([]);
    expect(r.documents.map((d) => [d.kind, d.line])).toEqual([['App', 3]]);
  });

  it('refuses an empty file, or one of comments only: "file: no documents"', () => {
    for (const text of ['', '# nothing yet\n---\n']) {
      const result = loadDocuments({ text, file: 'empty.yaml' });
      expect(result.documents).toEqual([]);
      expect(result.errors.map((e) => [e.code, formatSpecError(e)])).toEqual([['document', 'empty.yaml: no documents']]);
    }
  });
});

describe('documentReference', () => {
  const md = documentReference();
  it('has a section per kind and a row for every field, with type and description', () => {
    for (const kind of ['### App', '### Rollout', '### AnalysisTemplate']) expect(md).toContain(kind);
    expect(md).toContain('| `spec.strategy.canary.steps[].setWeight` | integer ≥ 0 | yes |');
    expect(md).toContain('| `spec.strategy.canary.steps[].pause.duration` | integer ≥ 0 or string (`^[0-9]+(ms\\|s\\|m\\|h)?$`) |');
    expect(md).toContain("| `spec.services[].strategy` | object |  | exactly a Rollout's `spec.strategy` (see Rollout below) |");
    expect(md).toContain('| `spec.metrics[].provider.web.method` | `"GET"` \\| `"POST"` \\| `"PUT"` |');
  });
});
