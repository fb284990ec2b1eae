/**
 * The schema as plain JSON Schema (for `graylane schema` and editors) and as the structural
 * OpenAPI v3 schema a CustomResourceDefinition needs. Both come from schema.ts, nothing by hand.
 */
import { SpecError } from './errors.js';
import { API_VERSION, App, AnalysisTemplate, Rollout } from './schema.js';
import { crdOpenApiSchema } from './crds.js';
import { plainSchema, structuralSchema, type JsonSchema } from './structural-schema.js';
import type { TSchema } from '@sinclair/typebox';

export type { JsonSchema } from './structural-schema.js';

/** The kinds `graylane schema` knows. */
export const SCHEMA_KINDS = ['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'App'] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];

const BY_KIND: Record<SchemaKind, TSchema> = { Rollout, AnalysisTemplate, ClusterAnalysisTemplate: AnalysisTemplate, App };

const plain = plainSchema;

function resolveKind(kind: string): SchemaKind {
  const found = SCHEMA_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!found) {
    throw new SpecError({ code: 'unknown-kind', file: '<schema>', line: 1, column: 1, path: '', reason: `unknown kind "${kind}"; expected one of ${SCHEMA_KINDS.join(', ')}` });
  }
  return found;
}

/** JSON Schema (draft 2020-12) of one kind (case-insensitive), or of any graylane document. */
export function jsonSchema(kind?: string): JsonSchema {
  const meta = { $schema: 'https://json-schema.org/draft/2020-12/schema' };
  if (kind === undefined) {
    return { ...meta, title: `graylane documents (${API_VERSION})`, anyOf: [Rollout, AnalysisTemplate, App].map(plain) };
  }
  const k = resolveKind(kind);
  const schema = plain(BY_KIND[k]);
  if (k === 'ClusterAnalysisTemplate' || k === 'AnalysisTemplate') {
    (schema.properties as Record<string, JsonSchema>).kind = { const: k, type: 'string' };
  }
  return { ...meta, title: k, ...schema };
}

/**
 * The `openAPIV3Schema` of a kind's CRD (structural: see structural-schema.ts), the very one the
 * CRDs carry; an App is not a cluster resource, but its structural form is given the same way.
 */
export function crdSchema(kind: string): JsonSchema {
  const k = resolveKind(kind);
  if (k !== 'App') return crdOpenApiSchema(k);
  const s = structuralSchema(plain(App));
  const props = s.properties as Record<string, JsonSchema>;
  props.metadata = { type: 'object' };
  props.apiVersion = { type: 'string' };
  props.kind = { type: 'string' };
  props.status = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  s.required = ['spec'];
  return s;
}
