/**
 * The schema as plain JSON Schema (for `graylane schema` and editors) and as the structural
 * OpenAPI v3 schema a CustomResourceDefinition needs. Both come from schema.ts, nothing by hand.
 */
import { SpecError } from './errors.js';
import { API_VERSION, App, AnalysisTemplate, Rollout } from './schema.js';
import type { TSchema } from '@sinclair/typebox';

/** A JSON Schema as plain data: no TypeBox symbols, safe to print or serialise. */
export type JsonSchema = Record<string, unknown>;

/** The kinds `graylane schema` knows. */
export const SCHEMA_KINDS = ['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'App'] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];

const BY_KIND: Record<SchemaKind, TSchema> = { Rollout, AnalysisTemplate, ClusterAnalysisTemplate: AnalysisTemplate, App };

function plain(schema: TSchema): JsonSchema {
  // JSON drops the symbol keys TypeBox adds (Kind, Optional…) and makes a private copy.
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

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
 * The `openAPIV3Schema` of a kind's CRD: structural (one type per node, no anyOf of types),
 * int-or-string unions as `x-kubernetes-int-or-string`, open objects as
 * `x-kubernetes-preserve-unknown-fields`, records as `additionalProperties`, constants as enums,
 * OpenAPI 3.0's boolean `exclusiveMinimum`; `metadata` left to the API server.
 */
export function crdSchema(kind: string): JsonSchema {
  const k = resolveKind(kind);
  const s = structural(plain(BY_KIND[k]));
  const props = s.properties as Record<string, JsonSchema>;
  props.metadata = { type: 'object' };
  props.apiVersion = { type: 'string' };
  props.kind = { type: 'string' };
  if (props.status) props.status = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  else if (k === 'Rollout' || k === 'App') props.status = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  s.required = ((s.required as string[] | undefined) ?? []).filter((r) => r === 'spec');
  return s;
}

function structural(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  if (typeof node.description === 'string') out.description = node.description;
  const anyOf = node.anyOf as JsonSchema[] | undefined;
  if (anyOf) {
    const types = new Set(anyOf.map((b) => b.type));
    if (types.has('integer') && types.has('string') && types.size === 2) return { ...out, 'x-kubernetes-int-or-string': true };
    if (anyOf.every((b) => 'const' in b) && types.size === 1) return { ...out, type: anyOf[0]?.type, enum: anyOf.map((b) => b.const) };
    if (anyOf.every((b) => b.type === 'object')) {
      // A union of objects (the steps) becomes one object with every branch's fields.
      const merged: Record<string, JsonSchema> = {};
      for (const b of anyOf) Object.assign(merged, b.properties as Record<string, JsonSchema>);
      return { ...out, ...structural({ type: 'object', properties: merged, minProperties: 1, maxProperties: 1 }) };
    }
    return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  }
  if ('const' in node) return { ...out, type: node.type, enum: [node.const] };
  if (node.type === undefined) return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  out.type = node.type;
  for (const key of ['minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'enum', 'format']) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  if (typeof node.exclusiveMinimum === 'number') {
    out.minimum = node.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof node.exclusiveMaximum === 'number') {
    out.maximum = node.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }
  if (node.type === 'array' && node.items) out.items = structural(node.items as JsonSchema);
  if (node.type === 'object') {
    const props = node.properties as Record<string, JsonSchema> | undefined;
    const patterns = node.patternProperties as Record<string, JsonSchema> | undefined;
    if (props && Object.keys(props).length) {
      out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, structural(v)]));
      if (Array.isArray(node.required) && node.required.length) out.required = node.required;
      if (node.additionalProperties === true) out['x-kubernetes-preserve-unknown-fields'] = true;
    } else if (patterns) {
      const value = Object.values(patterns)[0] as JsonSchema;
      out.additionalProperties = structural(value);
    } else if (node.additionalProperties !== false) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  return out;
}
