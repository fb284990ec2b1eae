/**
 * Schema validation: the Ajv validator generated from each kind's TypeBox schema (allErrors,
 * verbose; `npm run gen:documents`), then Ajv's raw errors are turned into one clear reason per bad
 * location. Unions are the hard part: Ajv reports every branch's failure, so each union is
 * collapsed to the branch the user evidently meant before anything is reported.
 */
import type { ErrorObject } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import type { Issue, PathSegment } from './source.js';

/** A validator `npm run gen:documents` generated: true when `data` is valid, else its errors are set. */
export type GeneratedValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

type AnyError = ErrorObject<string, Record<string, unknown>, unknown>;
type SchemaNode = Record<string, unknown> & {
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  description?: string;
  type?: string;
  const?: unknown;
  patternProperties?: Record<string, SchemaNode>;
};

/**
 * Nouns for unions of single-key objects (`unknown step "x"` reads better than `unknown field`),
 * by the union's JSON: a generated validator's errors carry a copy of their schema, not the
 * TypeBox object.
 */
const unionNouns = new Map<string, string>();

/** Names what the members of a single-key union are called in messages, e.g. `step`. */
export function nameUnion(schema: TSchema, noun: string): void {
  unionNouns.set(JSON.stringify(schema), noun);
}

/** Validates `data` with a generated validator; returns one issue per bad location, empty when valid. */
export function validateSchema(validate: GeneratedValidator, data: unknown, basePath: readonly PathSegment[] = []): Issue[] {
  if (validate(data)) return [];
  const raw = (validate.errors ?? []) as AnyError[];
  const issues = collapse(raw, data).map((i) => ({ ...i, path: [...basePath, ...i.path] }));
  return dedupe(issues);
}

/** Turns an Ajv instancePath into segments, indices as numbers where the data holds a list. */
function toSegments(instancePath: string, root: unknown): PathSegment[] {
  if (!instancePath) return [];
  const out: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const i = Number(key);
      out.push(i);
      node = node[i];
    } else {
      out.push(key);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

function within(e: AnyError, u: AnyError): boolean {
  return e.instancePath === u.instancePath || e.instancePath.startsWith(`${u.instancePath}/`);
}

/** Repeatedly replaces the outermost union failure by the errors of the branch that was meant. */
function collapse(errors: AnyError[], root: unknown): Issue[] {
  let list: AnyError[] = errors;
  const issues: Issue[] = [];
  for (;;) {
    const unions = list.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
    const u = unions[0];
    if (!u) break;
    const prefix = `${u.schemaPath}/`;
    const inBranch = (e: AnyError): boolean => e.schemaPath.startsWith(prefix) && within(e, u);
    const branchErrors = list.filter(inBranch);
    list = list.filter((e) => e !== u && !inBranch(e));
    const chosen = chooseBranch(u, branchErrors, root);
    if (Array.isArray(chosen)) list.push(...chosen);
    else issues.push(chosen);
  }
  for (const e of list) issues.push(toIssue(e, root));
  return issues;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(schema: SchemaNode, v: unknown): boolean {
  const t = schema.type;
  if (t === undefined) return true;
  const actual = jsonType(v);
  return t === actual || (t === 'number' && actual === 'integer');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A union whose members are closed objects told apart by one required key (steps, for one). */
function discriminators(branches: SchemaNode[]): string[] | undefined {
  const keys: string[] = [];
  for (const b of branches) {
    if (b.type !== 'object' || b.required?.length !== 1 || b.additionalProperties !== false) return undefined;
    keys.push(b.required[0] as string);
  }
  return keys;
}

function chooseBranch(u: AnyError, branchErrors: AnyError[], root: unknown): AnyError[] | Issue {
  const schema = u.parentSchema as SchemaNode;
  const branches = schema.anyOf ?? [];
  const data = u.data;
  const path = toSegments(u.instancePath, root);
  const ofBranch = (i: number): AnyError[] => branchErrors.filter((e) => e.schemaPath.startsWith(`${u.schemaPath}/${i}/`));

  if (branches.length && branches.every((b) => 'const' in b)) {
    return { path, at: 'value', code: 'schema', reason: `expected one of ${branches.map((b) => JSON.stringify(b.const)).join(', ')}, found ${describe(data)}` };
  }
  const keys = discriminators(branches);
  if (keys && isPlainObject(data)) {
    const noun = unionNouns.get(JSON.stringify(schema)) ?? 'field';
    const present = keys.filter((k) => k in data);
    if (present.length === 0) {
      const stray = Object.keys(data)[0];
      if (stray === undefined) return { path, at: 'value', code: 'schema', reason: `empty ${noun}; expected one of ${keys.join(', ')}` };
      return { path: [...path, stray], at: 'key', code: 'schema', reason: `unknown ${noun} "${stray}"; expected one of ${keys.join(', ')}` };
    }
    if (present.length > 1) {
      return { path, at: 'value', code: 'schema', reason: `a ${noun} has exactly one of ${keys.join(', ')}; found ${present.join(', ')}` };
    }
    return ofBranch(keys.indexOf(present[0] as string));
  }
  const matching = branches.map((b, i) => ({ b, i })).filter(({ b }) => typeMatches(b, data));
  if (matching.length === 0) {
    const expected = schema.description ?? branches.map((b) => article(b.type ?? 'value')).join(' or ');
    return { path, at: 'value', code: 'schema', reason: `expected ${expected}, found ${describe(data)}` };
  }
  const best = matching.map(({ i }) => ofBranch(i)).sort((a, b) => a.length - b.length)[0] ?? [];
  // A scalar that is the right type but the wrong form: the union's own wording says it best.
  if (schema.description && best.every((e) => e.instancePath === u.instancePath && e.keyword !== 'anyOf')) {
    return { path, at: 'value', code: 'schema', reason: `expected ${schema.description}, found ${describe(data)}` };
  }
  return best;
}

function article(type: string): string {
  switch (type) {
    case 'object': return 'an object';
    case 'array': return 'a list';
    case 'integer': return 'an integer';
    case 'null': return 'null';
    default: return `a ${type}`;
  }
}

/** How a found value is shown: strings quoted (and cut short), collections by their kind. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'an object';
  return JSON.stringify(v) ?? typeof v;
}

function propertyNames(schema: SchemaNode | undefined): string {
  return Object.keys(schema?.properties ?? {}).join(', ');
}

function toIssue(e: AnyError, root: unknown): Issue {
  const path = toSegments(e.instancePath, root);
  const parent = e.parentSchema;
  const p = e.params;
  const value = (reason: string): Issue => ({ path, at: 'value', code: 'schema', reason });
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const pp: unknown = parent?.patternProperties;
      const patterns = pp !== null && typeof pp === 'object' ? Object.keys(pp) : [];
      if (patterns.length) return { path: [...path, key], at: 'key', code: 'schema', reason: `invalid name "${key}": expected one matching ${patterns.join(' or ')}` };
      return { path: [...path, key], at: 'key', code: 'schema', reason: `unknown field "${key}"` };
    }
    case 'required':
      return value(`missing required field "${String(p.missingProperty)}"`);
    case 'type':
      return value(`expected ${String(p.type).split(',').map(article).join(' or ')}, found ${describe(e.data)}`);
    case 'minimum':
      return value(`must be at least ${String(p.limit)}, found ${describe(e.data)}`);
    case 'maximum':
      return value(`must be at most ${String(p.limit)}, found ${describe(e.data)}`);
    case 'exclusiveMinimum':
      return value(`must be more than ${String(p.limit)}, found ${describe(e.data)}`);
    case 'exclusiveMaximum':
      return value(`must be less than ${String(p.limit)}, found ${describe(e.data)}`);
    case 'pattern':
      return value(`expected ${parent?.description ?? `a string matching ${String(p.pattern)}`}, found ${describe(e.data)}`);
    case 'minLength':
      return value(p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`);
    case 'maxLength':
      return value(`must be at most ${String(p.limit)} characters long, found ${(e.data as string).length}`);
    case 'minItems':
      return value(`must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
    case 'maxItems':
      return value(`must have at most ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
    case 'const':
      return value(`expected ${JSON.stringify(p.allowedValue)}, found ${describe(e.data)}`);
    case 'enum':
      return value(`expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, found ${describe(e.data)}`);
    case 'minProperties':
    case 'maxProperties': {
      const names = propertyNames(parent);
      const found = Object.keys(isPlainObject(e.data) ? e.data : {});
      const exactly = parent?.minProperties === 1 && parent.maxProperties === 1;
      const wanted = exactly ? `exactly one of ${names}` : e.keyword === 'minProperties' ? `at least ${String(p.limit)} of ${names}` : `at most ${String(p.limit)} of ${names}`;
      return value(`expected ${wanted}, found ${found.length ? found.join(', ') : 'none'}`);
    }
    default:
      return value(e.message ?? 'invalid');
  }
}

/** One issue per location: the first reported wins (Ajv reports outer problems first). */
function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  const out: Issue[] = [];
  for (const i of issues) {
    const k = `${i.at}:${JSON.stringify(i.path)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(i);
  }
  return out;
}
