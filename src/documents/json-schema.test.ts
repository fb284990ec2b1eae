import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { SpecError, crdSchema, jsonSchema, type JsonSchema } from './index.js';

function walk(node: unknown, visit: (n: Record<string, unknown>, path: string) => void, path = ''): void {
  if (node === null || typeof node !== 'object') return;
  if (!Array.isArray(node)) visit(node as Record<string, unknown>, path);
  for (const [k, v] of Object.entries(node)) walk(v, visit, `${path}/${k}`);
}

describe('jsonSchema', () => {
  it('is plain JSON that Ajv compiles, for each kind and for all', () => {
    for (const kind of [undefined, 'Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'app']) {
      const schema = jsonSchema(kind);
      expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
      expect(Object.getOwnPropertySymbols(schema)).toEqual([]);
      const { $schema: _ignored, ...rest } = schema;
      expect(() => new Ajv({ strict: false }).compile(rest)).not.toThrow();
    }
  });

  it('checks documents like the loader does', () => {
    const { $schema: _ignored, ...schema } = jsonSchema('App');
    const validate = new Ajv({ strict: false }).compile(schema);
    const app = { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'shop' }, spec: { services: [{ name: 'api', process: { command: ['node'] } }] } };
    expect(validate(app)).toBe(true);
    expect(validate({ ...app, spec: { ...app.spec, replica: 1 } })).toBe(false);
  });

  it('names ClusterAnalysisTemplate as its own kind', () => {
    expect((jsonSchema('ClusterAnalysisTemplate').properties as Record<string, unknown>).kind).toEqual({ const: 'ClusterAnalysisTemplate', type: 'string' });
  });

  it('rejects an unknown kind with a SpecError', () => {
    expect(() => jsonSchema('Deployment')).toThrow(SpecError);
    expect(() => jsonSchema('Deployment')).toThrow('unknown kind "Deployment"; expected one of Rollout, AnalysisTemplate, ClusterAnalysisTemplate, App');
  });
});

/** The `properties` of the object schema reached by following property names. */
function dig(schema: JsonSchema, ...names: string[]): Record<string, JsonSchema> {
  let node = schema;
  for (const n of names) node = (node.properties as Record<string, JsonSchema>)[n]!;
  return node.properties as Record<string, JsonSchema>;
}

describe('crdSchema', () => {
  it.each(['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'App'])('%s is structural and accepted in a CRD by the Kubernetes schema', (kind) => {
    const schema = crdSchema(kind);
    walk(schema, (n, path) => {
      for (const banned of ['anyOf', 'oneOf', 'const', 'patternProperties', '$schema']) expect(n, `${banned} at ${path}`).not.toHaveProperty(banned);
      if (n.additionalProperties === false) throw new Error(`additionalProperties: false at ${path}`);
      if (path.endsWith('/properties') || path.endsWith('/x-kubernetes-int-or-string')) return;
      const typed = 'type' in n || n['x-kubernetes-int-or-string'] === true || n['x-kubernetes-preserve-unknown-fields'] === true;
      if (!path.split('/').slice(-1)[0]?.startsWith('enum')) expect(typed, `untyped node at ${path}`).toBe(true);
    });
    const plural = `${kind.toLowerCase()}s`;
    const crd = new CustomResourceDefinition({
      metadata: { name: `${plural}.graylane.dev` },
      spec: {
        group: 'graylane.dev',
        scope: kind === 'ClusterAnalysisTemplate' ? 'Cluster' : 'Namespaced',
        names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
        versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: schema } }],
      },
    });
    expect(() => crd.validate()).not.toThrow();
  });

  it('turns unions into int-or-string, enums and merged step objects', () => {
    const canary = dig(crdSchema('Rollout'), 'spec', 'strategy', 'canary');
    expect(canary.maxSurge).toEqual({ description: 'a count or a percentage such as 25%', 'x-kubernetes-int-or-string': true });
    expect(Object.keys(dig(canary.steps!.items as JsonSchema))).toEqual(['setWeight', 'pause', 'analysis', 'setCanaryScale', 'setHeaderRoute', 'setMirrorRoute']);
    expect(dig(canary.trafficRouting!).plugins).toEqual({ type: 'object', additionalProperties: { 'x-kubernetes-preserve-unknown-fields': true } });
    const spec = dig(crdSchema('Rollout'), 'spec');
    expect(spec.template).toMatchObject({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    const services = dig(crdSchema('App'), 'spec').services as { items: JsonSchema };
    const probe = dig(services.items, 'process', 'readinessProbe');
    expect(probe.periodSeconds).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true });
  });
});
