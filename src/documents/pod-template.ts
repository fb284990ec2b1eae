/**
 * Pod templates are checked against the Kubernetes schema shipped by kubernetes-models (generated
 * from the official OpenAPI), not a hand-written copy. Its Ajv errors become issues like ours.
 */
import { createRequire } from 'node:module';
import type { PodTemplateSpec as PodTemplateSpecClass } from 'kubernetes-models/v1/PodTemplateSpec';
import type { Issue, PathSegment } from './source.js';
import { describe } from './validate.js';

/**
 * Loaded on the first pod template, not at import: the schema and its validators hold ~10 MB, and
 * the single-host daemon, which imports this module to read App files, never sees a pod template.
 */
let podTemplateSpec: typeof PodTemplateSpecClass | undefined;
function PodTemplateSpec(): typeof PodTemplateSpecClass {
  return (podTemplateSpec ??= (createRequire(import.meta.url)('kubernetes-models/v1/PodTemplateSpec') as { PodTemplateSpec: typeof PodTemplateSpecClass }).PodTemplateSpec);
}

interface K8sError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

function segments(instancePath: string, root: unknown): { path: PathSegment[]; value: unknown } {
  const path: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of instancePath.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(node) ? Number(key) : key;
    path.push(seg);
    node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[seg] : undefined;
  }
  return { path, value: node };
}

const TYPE_NAMES: Record<string, string> = { object: 'an object', array: 'a list', integer: 'an integer', string: 'a string', boolean: 'a boolean', number: 'a number' };

/** Validates `template` (found at `base`) against Kubernetes' PodTemplateSpec. */
export function checkPodTemplate(template: unknown, base: PathSegment[]): Issue[] {
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    return [{ path: base, at: 'value', code: 'pod-template', reason: `expected an object, found ${describe(template)}` }];
  }
  const out: Issue[] = [];
  try {
    new (PodTemplateSpec())(template).validate();
  } catch (e) {
    const errors = (e as { errors?: K8sError[] }).errors;
    if (!Array.isArray(errors)) throw e;
    const seen = new Set<string>();
    for (const err of errors) {
      const { path, value } = segments(err.instancePath, template);
      const key = JSON.stringify(path);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ path: [...base, ...path], at: 'value', code: 'pod-template', reason: reason(err, value) });
    }
  }
  const containers = (template as { spec?: { containers?: unknown } }).spec?.containers;
  if (Array.isArray(containers) && containers.length === 0) out.push({ path: [...base, 'spec', 'containers'], at: 'value', code: 'pod-template', reason: 'must have at least 1 item' });
  if ((template as { spec?: unknown }).spec === undefined) out.push({ path: base, at: 'value', code: 'pod-template', reason: 'missing required field "spec"' });
  return out;
}

function reason(err: K8sError, value: unknown): string {
  const p = err.params;
  switch (err.keyword) {
    case 'type': {
      const types = (Array.isArray(p.type) ? p.type : String(p.type).split(',')).map(String);
      return `expected ${types.filter((t) => t !== 'null').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}, found ${describe(value)}`;
    }
    case 'required':
      return `missing required field "${String(p.missingProperty)}"`;
    case 'enum':
      return `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, found ${describe(value)}`;
    case 'format':
      return `expected ${String(p.format)}, found ${describe(value)}`;
    default:
      return err.message ?? 'invalid';
  }
}
