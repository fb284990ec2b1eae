import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crdsYaml, customResourceDefinitions } from '../../src/documents/index.js';
import { kubernetesManifests, type KubernetesInstallOptions } from '../../src/cli/install/kubernetes-manifests.js';
import { ChartRenderError, readChart, renderChart, renderTemplate, type ChartContext } from './chart-render.js';

const root = resolve(import.meta.dirname, '../..');
const chartDir = resolve(root, 'deploy/helm/graylane');
const CRDS_FILE = 'deploy/helm/graylane/crds/graylane.dev.yaml';
const REGENERATE = `npx graylane install kubernetes --crds-only > ${CRDS_FILE}`;

type Loose = Record<string, unknown>;
const key = (o: Loose): string => {
  const m = o.metadata as { name: string; namespace?: string };
  return `${String(o.kind)} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
};
const byKey = (objects: Loose[]): Map<string, Loose> => new Map(objects.map((o) => [key(o), o]));

/**
 * What `graylane install kubernetes` prints, less the Namespace: a Helm release lives in a
 * namespace that exists before it (`helm install -n NS --create-namespace`), and a chart that
 * also declared it would fail on the namespace Helm just created.
 */
function cliObjects(options: KubernetesInstallOptions): Loose[] {
  return (kubernetesManifests(options) as unknown as Loose[]).filter((o) => o.kind !== 'Namespace');
}

function expectSameObjects(chart: Loose[], cli: Loose[]): void {
  expect([...byKey(chart).keys()].sort()).toEqual([...byKey(cli).keys()].sort());
  expect(chart).toHaveLength(cli.length);
  const rendered = byKey(chart);
  for (const [k, object] of byKey(cli)) expect(rendered.get(k), k).toEqual(object);
}

describe('the Helm chart deploy/helm/graylane', () => {
  const chart = readChart(chartDir);

  it('renders with its default values exactly the objects `graylane install kubernetes` prints (but the Namespace)', () => {
    expectSameObjects(renderChart(chart, { releaseNamespace: 'graylane-system' }), cliObjects({}));
  });

  it('follows the release namespace, the image, the replicas and the resources like the CLI’s flags', () => {
    const resources = { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } };
    const rendered = renderChart(chart, {
      releaseNamespace: 'delivery',
      values: { image: { repository: 'registry.example:5000/team/graylane', tag: 'dev' }, replicas: 3, resources },
    });
    expectSameObjects(rendered, cliObjects({ namespace: 'delivery', image: 'registry.example:5000/team/graylane:dev', replicas: 3, resources }));
    expect(JSON.stringify(rendered.filter((o) => o.kind !== 'CustomResourceDefinition'))).not.toContain('graylane-system');
  });

  it('argoRollouts: true renders what `graylane install kubernetes --argo-rollouts` prints', () => {
    expectSameObjects(renderChart(chart, { releaseNamespace: 'graylane-system', values: { argoRollouts: true } }), cliObjects({ argoRollouts: true }));
    // And false is the default, not merely absent.
    expectSameObjects(renderChart(chart, { releaseNamespace: 'graylane-system', values: { argoRollouts: false } }), cliObjects({}));
  });

  it('prometheus.url renders what `graylane install kubernetes --prometheus-url` prints', () => {
    const url = 'http://prometheus.monitoring:9090';
    expectSameObjects(renderChart(chart, { releaseNamespace: 'graylane-system', values: { prometheus: { url } } }), cliObjects({ prometheusUrl: url }));
  });

  it(`holds in crds/ the CRDs the CLI generates (when this fails, run: ${REGENERATE})`, () => {
    expect(Object.keys(chart.crds)).toEqual(['graylane.dev.yaml']);
    expect(readFileSync(resolve(root, CRDS_FILE), 'utf8'), `${CRDS_FILE} is stale: regenerate it with \`${REGENERATE}\``).toBe(crdsYaml());
    expect(renderChart(chart, { releaseNamespace: 'x' }).filter((o) => o.kind === 'CustomResourceDefinition')).toEqual(customResourceDefinitions());
  });

  it('keeps CRDs out of templates/ (Helm would delete them, and every Rollout, on uninstall)', () => {
    const templated = renderChart({ ...chart, crds: {} }, { releaseNamespace: 'x' });
    expect(templated.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  it('versions the chart, its appVersion and the default image tag as package.json', () => {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string };
    expect(chart.chart).toMatchObject({ apiVersion: 'v2', name: 'graylane', version: pkg.version, appVersion: pkg.version });
    expect(chart.values.image).toEqual({ repository: 'ghcr.io/graylane/graylane', tag: pkg.version });
  });
});

describe('the chart renderer of this test', () => {
  const context: ChartContext = { values: { a: { b: 'x', n: 2, o: { k: 'v' } } }, releaseNamespace: 'ns', appVersion: '1.0.0' };

  it('substitutes values, the release namespace, the app version and toYaml | nindent, with Helm’s trims', () => {
    expect(renderTemplate('n: {{ .Values.a.n }}\nns: {{ .Release.Namespace }}\nv: "{{ .Chart.AppVersion }}"\no:\n  {{- toYaml .Values.a.o | nindent 2 }}\n', context))
      .toBe('n: 2\nns: ns\nv: "1.0.0"\no:\n  k: v\n');
  });

  it.each([
    ['a true value', { on: true }, 'a: 1\nb: yes\nc: 3\n'],
    ['a false value', { on: false }, 'a: 1\nb: no\nc: 3\n'],
    ['an empty string', { on: '' }, 'a: 1\nb: no\nc: 3\n'],
    ['a non-empty list', { on: [1] }, 'a: 1\nb: yes\nc: 3\n'],
  ])('renders {{ if }} … {{ else }} … {{ end }} with Helm\'s trims and Go\'s truth, on %s', (_name, values, expected) => {
    expect(renderTemplate('a: 1\n{{- if .Values.on }}\nb: yes\n{{- else }}\nb: no\n{{- end }}\nc: 3\n', { ...context, values })).toBe(expected);
  });

  it.each<[string, string, ChartRenderError['code']]>([
    ['a control structure it does not know', '{{ range .Values.a }}x{{ end }}', 'unsupported-construct'],
    ['a nested if', '{{ if .Values.a }}{{ if .Values.a.b }}x{{ end }}{{ end }}', 'unsupported-construct'],
    ['an if on a value that is not there', '{{ if .Values.nope }}x{{ end }}', 'missing-value'],
    ['a function it does not know', '{{ default "y" .Values.a.b }}', 'unsupported-construct'],
    ['another root object', '{{ .Release.Name }}', 'unsupported-construct'],
    ['a value that is not there', '{{ .Values.a.missing }}', 'missing-value'],
    ['an object printed as a scalar', '{{ .Values.a.o }}', 'not-a-scalar'],
  ])('refuses %s rather than render it wrong', (_name, template, code) => {
    expect(() => renderTemplate(template, context)).toThrow(expect.objectContaining({ code }));
  });
});
