/**
 * JSON Schema → the structural OpenAPI v3 schema a CustomResourceDefinition needs: one type per
 * node, no anyOf of types, int-or-string unions as `x-kubernetes-int-or-string`, open objects as
 * `x-kubernetes-preserve-unknown-fields`, records as `additionalProperties`, constants as enums,
 * OpenAPI 3.0's boolean `exclusiveMinimum`. Used by the CRDs and by `graylane schema --crd`.
 */
import type { TSchema } from '@sinclair/typebox';

/** A JSON Schema as plain data: no TypeBox symbols, safe to print or serialise. */
export type JsonSchema = Record<string, unknown>;

/** A TypeBox schema as plain JSON: the symbol keys TypeBox adds (Kind, Optional…) are dropped, and the copy is private. */
export function plainSchema(schema: TSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

/** The structural form of a plain JSON Schema (see the file comment); the input is not changed. */
export function structuralSchema(node: JsonSchema): JsonSchema {
  return structural(node);
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
