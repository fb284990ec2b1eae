/** graylane's Rollout CRD as the fake API server can hold it (see below). */
import { customResourceDefinition } from '../../../src/documents/index.js';

/**
 * The Rollout CRD without OpenAPI 3.0's boolean exclusive bounds: the fake accepts them in a CRD
 * but then compiles the schema with draft-07 Ajv, which wants numbers, and fails every write of a
 * Rollout (the guard's `alpha`, …). The bounds only loosen to inclusive ones; nothing here writes a
 * guard. To drop once the fake converts them itself.
 */
export function rolloutCrdForTheFake(): unknown {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(typeof v === 'boolean' && (k === 'exclusiveMinimum' || k === 'exclusiveMaximum'))).map(([k, v]) => [k, k === 'enum' ? v : strip(v)]));
  };
  return strip(customResourceDefinition('Rollout'));
}
