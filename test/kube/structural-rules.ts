/**
 * The rules an API server applies to a CRD's `openAPIV3Schema` before it serves the resource
 * (Kubernetes' "structural schema": KEP-2335 and the CRD documentation), checked by hand here so
 * that a generated schema the server would refuse fails a test instead of a `kubectl apply`.
 */

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keywords a CRD schema may not carry at all (v1 JSONSchemaProps has no field for them, or forbids them). */
const FORBIDDEN = ['$ref', '$schema', 'definitions', '$defs', 'const', 'patternProperties', 'dependencies'];
/** What an anyOf/allOf/oneOf/not branch may not set: the node outside it must say it. */
const NOT_IN_JUNCTORS = ['type', 'description', 'default', 'additionalProperties', 'nullable'];

/** Every structural-schema violation in `schema`, as `path: reason`; empty when the API server would take it. */
export function structuralViolations(schema: unknown): string[] {
  const out: string[] = [];
  if (!isNode(schema)) return ['/: the schema is not an object'];
  if (schema.type !== 'object') out.push('/: the root must have type: object');
  checkNode(schema, '', out);
  const metadata = isNode(schema.properties) ? schema.properties.metadata : undefined;
  if (isNode(metadata)) {
    const extra = Object.keys(metadata).filter((k) => k !== 'type' && k !== 'properties');
    const fields = isNode(metadata.properties) ? Object.keys(metadata.properties).filter((k) => k !== 'name' && k !== 'generateName') : [];
    if (extra.length || fields.length) out.push(`/properties/metadata: only name and generateName may be constrained, found ${[...extra, ...fields].join(', ')}`);
  }
  return out;
}

function checkNode(node: Node, path: string, out: string[]): void {
  for (const k of FORBIDDEN) if (k in node) out.push(`${path}/${k}: not allowed in a CRD schema`);
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (intOrString && 'type' in node) out.push(`${path}: x-kubernetes-int-or-string with a type`);
  if (!intOrString && !preserve && (typeof node.type !== 'string' || node.type === '')) out.push(`${path}: no type`);
  if ('properties' in node && 'additionalProperties' in node) out.push(`${path}: additionalProperties beside properties`);
  if (node.additionalProperties === false) out.push(`${path}: additionalProperties: false`);
  if (typeof node.exclusiveMinimum === 'number' || typeof node.exclusiveMaximum === 'number') out.push(`${path}: a numeric exclusive bound (OpenAPI 3.0 takes a boolean)`);
  if (isNode(node.properties)) for (const [k, v] of Object.entries(node.properties)) visit(v, `${path}/properties/${k}`, out);
  if ('items' in node) visit(node.items, `${path}/items`, out);
  if (isNode(node.additionalProperties)) visit(node.additionalProperties, `${path}/additionalProperties`, out);
  for (const junctor of ['anyOf', 'allOf', 'oneOf']) {
    const branches = node[junctor];
    if (branches === undefined) continue;
    if (!Array.isArray(branches)) {
      out.push(`${path}/${junctor}: not a list`);
      continue;
    }
    branches.forEach((b, i) => checkJunctor(b, node, `${path}/${junctor}/${i}`, out));
  }
  if ('not' in node) checkJunctor(node.not, node, `${path}/not`, out);
}

function visit(child: unknown, path: string, out: string[]): void {
  if (!isNode(child)) out.push(`${path}: not a schema`);
  else checkNode(child, path, out);
}

/** A branch may only restate value checks of fields the node itself declares. */
function checkJunctor(branch: unknown, owner: Node, path: string, out: string[]): void {
  if (!isNode(branch)) return void out.push(`${path}: not a schema`);
  for (const k of NOT_IN_JUNCTORS) if (k in branch) out.push(`${path}/${k}: not allowed inside a logical junctor`);
  for (const k of FORBIDDEN) if (k in branch) out.push(`${path}/${k}: not allowed in a CRD schema`);
  const declared = isNode(owner.properties) ? owner.properties : {};
  if (isNode(branch.properties)) {
    for (const k of Object.keys(branch.properties)) if (!(k in declared)) out.push(`${path}/properties/${k}: not declared outside the junctor`);
  }
}

export { toAjvSchema } from '../fixtures/kube/openapi-to-ajv.js';
