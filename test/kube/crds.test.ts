import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { CRD_KINDS, crdOpenApiSchema, customResourceDefinition, loadDocuments, type CrdKind, type JsonSchema } from '../../src/documents/index.js';
import { structuralViolations, toAjvSchema } from './structural-rules.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function compile(schema: JsonSchema): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(toAjvSchema(schema) as object);
}

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: process.cwd() });
  return { code, out, err };
}

/** The schema node at a printer column's `.a.b.c` path, following properties. */
function nodeAt(schema: JsonSchema, jsonPath: string): JsonSchema | undefined {
  let node: JsonSchema | undefined = schema;
  for (const name of jsonPath.slice(1).split('.')) node = (node?.properties as Record<string, JsonSchema> | undefined)?.[name];
  return node;
}

describe('the generated CRDs', () => {
  it.each(CRD_KINDS)('%s is a CustomResourceDefinition the official Kubernetes model accepts', (kind) => {
    const crd = customResourceDefinition(kind);
    expect(() => new CustomResourceDefinition(crd).validate()).not.toThrow();
    expect(crd.metadata?.name).toBe(`${crd.spec.names.plural}.graylane.dev`);
    expect(crd.spec.group).toBe('graylane.dev');
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
    expect(crd.spec.names.categories).toEqual(['graylane']);
  });

  it.each(CRD_KINDS)('the %s schema breaks no structural-schema rule', (kind) => {
    expect(structuralViolations(customResourceDefinition(kind).spec.versions[0]!.schema!.openAPIV3Schema)).toEqual([]);
  });

  it('only ClusterAnalysisTemplate is cluster-scoped', () => {
    expect(Object.fromEntries(CRD_KINDS.map((k) => [k, customResourceDefinition(k).spec.scope]))).toEqual({
      Rollout: 'Namespaced', AnalysisTemplate: 'Namespaced', ClusterAnalysisTemplate: 'Cluster', AnalysisRun: 'Namespaced', Release: 'Namespaced',
    });
  });

  it('gives Rollout, AnalysisRun and Release a status subresource, and Rollout the scale subresource an HPA drives', () => {
    const sub = (k: CrdKind) => customResourceDefinition(k).spec.versions[0]!.subresources;
    expect(sub('Rollout')).toEqual({ status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } });
    expect(sub('AnalysisRun')).toEqual({ status: {} });
    expect(sub('Release')).toEqual({ status: {} });
    expect(sub('AnalysisTemplate')).toBeUndefined();
    expect(sub('ClusterAnalysisTemplate')).toBeUndefined();
    // The scale paths must name fields the schema keeps (anything else is pruned by the server).
    const rollout = crdOpenApiSchema('Rollout');
    expect(nodeAt(rollout, '.spec.replicas')).toMatchObject({ type: 'integer' });
    expect(nodeAt(rollout, '.status.replicas')).toMatchObject({ type: 'integer' });
    expect(nodeAt(rollout, '.status.selector')).toMatchObject({ type: 'string' });
  });

  it('prints phase, step, canary weight and age for `kubectl get`, from fields the schema declares with the column type', () => {
    const columns = (k: CrdKind) => customResourceDefinition(k).spec.versions[0]!.additionalPrinterColumns ?? [];
    expect(columns('Rollout').filter((c) => !c.priority).map((c) => c.name)).toEqual(['Phase', 'Step', 'Weight', 'Age']);
    expect(columns('AnalysisRun').map((c) => c.name)).toEqual(['Phase', 'Age']);
    expect(columns('Release').map((c) => c.name)).toEqual(['Phase', 'Step', 'Age']);
    for (const kind of CRD_KINDS) {
      for (const c of columns(kind)) {
        if (c.jsonPath === '.metadata.creationTimestamp') continue;
        expect(nodeAt(crdOpenApiSchema(kind), c.jsonPath), `${kind} ${c.name} ${c.jsonPath}`).toMatchObject({ type: c.type });
      }
    }
  });

  it('has short names of its own, none of Argo Rollouts’ (ro, at, cat, ar, exp)', () => {
    const names = CRD_KINDS.flatMap((k) => customResourceDefinition(k).spec.names.shortNames ?? []);
    expect(names).toEqual(['glro', 'glat', 'glcat', 'glar', 'glrel']);
    expect(names.filter((n) => ['ro', 'at', 'cat', 'ar', 'exp'].includes(n))).toEqual([]);
  });

  it('holds in a Rollout status everything the controller writes, and refuses what it never writes', () => {
    const status = crdOpenApiSchema('Rollout').properties as Record<string, JsonSchema>;
    expect(Object.keys(status.status!.properties as object)).toEqual(expect.arrayContaining([
      'phase', 'currentPodHash', 'stableRS', 'currentStepIndex', 'canary', 'blueGreen', 'pauseConditions', 'abort',
      'conditions', 'observedGeneration', 'replicas', 'readyReplicas', 'availableReplicas', 'selector',
    ]));
    const validate = compile(status.status!);
    const written = {
      phase: 'Paused', currentPodHash: '6b7d9f', stableRS: '5c4f8e', currentStepIndex: 1, observedGeneration: 3,
      canary: { weights: { canary: { weight: 20, podTemplateHash: '6b7d9f', serviceName: 'demo-canary' }, stable: { weight: 80, podTemplateHash: '5c4f8e' } } },
      blueGreen: { activeSelector: '5c4f8e', previewSelector: '6b7d9f' },
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2024-05-01T10:00:00Z' }], abort: false,
      conditions: [{ type: 'Healthy', status: 'False', reason: 'RolloutPaused', message: 'paused at step 1', lastTransitionTime: '2024-05-01T10:00:00Z', lastUpdateTime: '2024-05-01T10:00:01Z' }],
      replicas: 5, updatedReplicas: 1, readyReplicas: 5, availableReplicas: 5, selector: 'app=demo',
    };
    expect(validate(written), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...written, phase: 'Running' })).toBe(false);
    expect(validate({ ...written, readyReplicas: -1 })).toBe(false);
    expect(validate({ ...written, conditions: [{ type: 'Healthy', status: 'Yes' }] })).toBe(false);
    expect(validate({ ...written, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: 'yesterday' }] })).toBe(false);
    expect(validate({ ...written, canary: { weights: { canary: { weight: -1 }, stable: { weight: 101 } } } })).toBe(false);
  });

  it('is what `graylane schema KIND --crd` prints', async () => {
    const r = await run(['schema', 'Rollout', '--crd']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(crdOpenApiSchema('Rollout'));
  });
});

describe('the structural-rule walker', () => {
  const root = (spec: JsonSchema): JsonSchema => ({ type: 'object', properties: { spec } });

  it('passes a small structural schema', () => {
    expect(structuralViolations(root({ type: 'object', properties: { n: { 'x-kubernetes-int-or-string': true }, free: { 'x-kubernetes-preserve-unknown-fields': true } } }))).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['a property without a type', root({ type: 'object', properties: { replicas: { minimum: 0 } } }), '/properties/spec/properties/replicas: no type'],
    ['an array item without a type', root({ type: 'array', items: { description: 'x' } }), '/properties/spec/items: no type'],
    ['a $ref', root({ type: 'object', properties: { s: { $ref: '#/definitions/S' } } }), '/properties/spec/properties/s/$ref: not allowed in a CRD schema'],
    ['additionalProperties beside properties', root({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }), '/properties/spec: additionalProperties beside properties'],
    ['additionalProperties: false', root({ type: 'object', additionalProperties: false }), '/properties/spec: additionalProperties: false'],
    ['a type inside anyOf', root({ type: 'object', properties: { a: { type: 'string' } }, anyOf: [{ type: 'object' }] }), '/properties/spec/anyOf/0/type: not allowed inside a logical junctor'],
    ['a field only inside oneOf', root({ type: 'object', properties: { a: { type: 'string' } }, oneOf: [{ properties: { b: {} } }] }), '/properties/spec/oneOf/0/properties/b: not declared outside the junctor'],
    ['int-or-string with a type', root({ type: 'object', properties: { n: { type: 'string', 'x-kubernetes-int-or-string': true } } }), '/properties/spec/properties/n: x-kubernetes-int-or-string with a type'],
    ['a numeric exclusive bound', root({ type: 'number', exclusiveMinimum: 0 }), '/properties/spec: a numeric exclusive bound (OpenAPI 3.0 takes a boolean)'],
    ['a const', root({ type: 'string', const: 'x' }), '/properties/spec/const: not allowed in a CRD schema'],
    ['metadata constrained beyond its name', { type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } }, '/properties/metadata: only name and generateName may be constrained, found labels'],
    ['a root that is not an object', { type: 'string' }, '/: the root must have type: object'],
  ])('refuses %s', (_name, schema, violation) => {
    expect(structuralViolations(schema)).toContain(violation);
  });
});

const VALID = 'test/fixtures/documents/valid';
const INVALID = 'test/fixtures/documents/invalid';

/** Every Rollout and AnalysisTemplate of the valid fixtures as stored in a cluster: loaded (Argo steps split, unsupported fields left out) and in graylane's group. */
function validFixtures(kinds: string[]): { name: string; doc: Record<string, unknown> }[] {
  return readdirSync(VALID).filter((f) => /\.ya?ml$/.test(f)).sort().flatMap((f) => {
    const loaded = loadDocuments({ text: readFileSync(join(VALID, f), 'utf8'), file: f });
    expect(loaded.errors, f).toEqual([]);
    return loaded.documents.filter((d) => kinds.includes(d.kind)).map((d) => ({ name: `${f} ${d.kind} ${d.name}`, doc: { ...(d.doc as object), apiVersion: 'graylane.dev/v1alpha1' } }));
  });
}

describe('documents against the CRD schemas (Ajv)', () => {
  const rollout = compile(crdOpenApiSchema('Rollout'));

  it('accepts every valid Rollout fixture, Argo ones after conversion', () => {
    const fixtures = validFixtures(['Rollout']);
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
    for (const { name, doc } of fixtures) expect(rollout(doc), `${name}: ${JSON.stringify(rollout.errors)}`).toBe(true);
  });

  it('accepts every valid AnalysisTemplate fixture in its kind’s CRD', () => {
    const fixtures = validFixtures(['AnalysisTemplate', 'ClusterAnalysisTemplate']);
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
    for (const { name, doc } of fixtures) {
      const validate = compile(crdOpenApiSchema(doc.kind as CrdKind));
      expect(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it.each(['28-both-strategies.yaml', '29-no-strategy-kind.yaml'])('refuses the invalid fixture %s', (file) => {
    expect(rollout(parse(readFileSync(join(INVALID, file), 'utf8')))).toBe(false);
  });

  const base = parse(readFileSync(join(VALID, 'seed-canary-pause-resume.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  const withCanary = (canary: Record<string, unknown>) => ({ ...base, apiVersion: 'graylane.dev/v1alpha1', spec: { ...base.spec, strategy: { canary } } });

  it('the base of the variants below is valid', () => {
    expect(rollout(withCanary({ steps: [{ setWeight: 20 }, { pause: {} }], maxSurge: '25%' }))).toBe(true);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a negative weight (above 100 is on the scale of maxTrafficWeight: the loader checks it)', withCanary({ steps: [{ setWeight: -10 }] })],
    ['a step with two keys', withCanary({ steps: [{ setWeight: 20, pause: {} }] })],
    ['a step with no key', withCanary({ steps: [{}] })],
    ['setCanaryScale with two sizes', withCanary({ steps: [{ setCanaryScale: { weight: 20, replicas: 2 } }] })],
    ['maxSurge that is neither a count nor a percentage', withCanary({ maxSurge: true })],
    ['a workloadRef scaleDown Argo does not have', { ...withCanary({}), spec: { ...withCanary({}).spec, workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', scaleDown: 'sometimes' } } }],
    ['replicas as a word', { ...withCanary({}), spec: { ...withCanary({}).spec, replicas: 'two' } }],
    ['no spec', { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'x' } }],
  ])('refuses %s', (_name, doc) => {
    expect(rollout(doc)).toBe(false);
  });

  it('leaves the pod template to the controller: a container port by name passes the CRD (graylane validate refuses it)', () => {
    expect(rollout(parse(readFileSync(join(INVALID, '16-pod-template-type.yaml'), 'utf8')))).toBe(true);
  });
});
