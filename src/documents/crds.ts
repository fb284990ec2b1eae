/**
 * The CustomResourceDefinitions of graylane's kinds in the cluster, generated from the one schema
 * source (schema.ts for specs, status-schema.ts for what the controller writes), never by hand.
 * `graylane install kubernetes --crds-only` prints them; the controller's fake API server serves
 * what they declare.
 */
import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import type { ICustomResourceColumnDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceColumnDefinition';
import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { AnalysisRunSpec, AnalysisTemplateSpec, ReleaseSpec, RolloutSpec } from './schema.js';
import { AnalysisRunStatus, ReleaseStatus, RolloutStatus } from './status-schema.js';
import { plainSchema, structuralSchema, type JsonSchema } from './structural-schema.js';

/** The API group of graylane's custom resources. */
export const CRD_GROUP = 'graylane.dev';
/** Their one version, served and stored. */
export const CRD_VERSION = 'v1alpha1';

/** The kinds graylane defines in a cluster, in the order they are printed. */
export const CRD_KINDS = ['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'AnalysisRun', 'Release'] as const;
/** One of {@link CRD_KINDS}. */
export type CrdKind = (typeof CRD_KINDS)[number];

/** A CustomResourceDefinition as plain data (apiextensions.k8s.io/v1). */
export type CustomResourceDefinitionObject = ICustomResourceDefinition & { apiVersion: 'apiextensions.k8s.io/v1'; kind: 'CustomResourceDefinition' };

interface KindDefinition {
  plural: string;
  /** Argo's are ro, at, cat, ar: ours carry a `gl` prefix so both controllers' CRDs can live side by side. */
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: TSchema;
  status?: TSchema;
  scale?: boolean;
  columns: ICustomResourceColumnDefinition[];
}

const AGE: ICustomResourceColumnDefinition = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

const KINDS: Record<CrdKind, KindDefinition> = {
  Rollout: {
    plural: 'rollouts',
    shortNames: ['glro'],
    scope: 'Namespaced',
    description: 'A service rolled out step by step (canary, blue-green or rolling), with Argo Rollouts’ fields.',
    spec: RolloutSpec,
    status: RolloutStatus,
    scale: true,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Healthy, Progressing, Paused, Degraded or Completed' },
      { name: 'Step', type: 'integer', jsonPath: '.status.currentStepIndex', description: 'the canary step the rollout is at' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.canary.weights.canary.weight', description: 'percent of traffic on the canary' },
      { name: 'Desired', type: 'integer', jsonPath: '.spec.replicas', priority: 1 },
      { name: 'Available', type: 'integer', jsonPath: '.status.availableReplicas', priority: 1 },
      AGE,
    ],
  },
  AnalysisTemplate: {
    plural: 'analysistemplates',
    shortNames: ['glat'],
    scope: 'Namespaced',
    description: 'Metrics and the conditions that judge them, run by a rollout’s analysis steps.',
    spec: AnalysisTemplateSpec,
    columns: [AGE],
  },
  ClusterAnalysisTemplate: {
    plural: 'clusteranalysistemplates',
    shortNames: ['glcat'],
    scope: 'Cluster',
    description: 'An AnalysisTemplate every namespace may use (templateName with clusterScope: true).',
    spec: AnalysisTemplateSpec,
    columns: [AGE],
  },
  AnalysisRun: {
    plural: 'analysisruns',
    shortNames: ['glar'],
    scope: 'Namespaced',
    description: 'One run of analysis templates for a rollout: its measurements and verdict.',
    spec: AnalysisRunSpec,
    status: AnalysisRunStatus,
    columns: [{ name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Successful, Failed, Inconclusive or Error' }, AGE],
  },
  Release: {
    plural: 'releases',
    shortNames: ['glrel'],
    scope: 'Namespaced',
    description: 'Several Rollouts (a frontend and its backends) moved as one, clients pinned to one side.',
    spec: ReleaseSpec,
    status: ReleaseStatus,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'idle, progressing, promoted or aborted' },
      { name: 'Step', type: 'integer', jsonPath: '.status.currentStepIndex', description: 'the release step its members are at' },
      AGE,
    ],
  },
};

/**
 * The `openAPIV3Schema` of a kind's CRD: `spec` and `status` from the schema source, `metadata`
 * left to the API server (a CRD may not constrain more of it than name and generateName).
 */
export function crdOpenApiSchema(kind: CrdKind): JsonSchema {
  const def = KINDS[kind];
  const properties: Record<string, JsonSchema> = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: structuralSchema(plainSchema(def.spec)),
  };
  if (def.status) properties.status = structuralSchema(plainSchema(def.status));
  return { type: 'object', description: def.description, required: ['spec'], properties };
}

/** The CustomResourceDefinition of one kind. */
export function customResourceDefinition(kind: CrdKind): CustomResourceDefinitionObject {
  const def = KINDS[kind];
  const subresources: Record<string, unknown> = {};
  if (def.status) subresources.status = {};
  // As Argo's Rollout: an HorizontalPodAutoscaler (or `kubectl scale`) sets spec.replicas and
  // reads the pods it counts through the selector the controller writes in status.
  if (def.scale) subresources.scale = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${CRD_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'graylane' } },
    spec: {
      group: CRD_GROUP,
      scope: def.scope,
      names: { kind, listKind: `${kind}List`, plural: def.plural, singular: kind.toLowerCase(), shortNames: def.shortNames, categories: ['graylane'] },
      versions: [{
        name: CRD_VERSION,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: crdOpenApiSchema(kind) },
        ...(Object.keys(subresources).length ? { subresources } : {}),
        additionalPrinterColumns: def.columns,
      }],
    },
  };
}

/** Every graylane CRD, in {@link CRD_KINDS} order. */
export function customResourceDefinitions(): CustomResourceDefinitionObject[] {
  return CRD_KINDS.map(customResourceDefinition);
}

/** Every graylane CRD as YAML documents separated by `---`, the same text on every call. */
export function crdsYaml(): string {
  return customResourceDefinitions().map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`).join('');
}
