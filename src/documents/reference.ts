/**
 * The document reference in Markdown, generated from the schema: every field with its type and
 * description. The README embeds it; a field added to schema.ts shows up here by itself.
 */
import { API_VERSION, App, AnalysisTemplate, Rollout } from './schema.js';
import type { TSchema } from '@sinclair/typebox';

type Node = Record<string, unknown>;

interface Row {
  readonly field: string;
  readonly type: string;
  readonly required: boolean;
  readonly description: string;
}

function plain(schema: TSchema): Node {
  return JSON.parse(JSON.stringify(schema)) as Node;
}

function range(n: Node): string {
  const min = (n.minimum ?? n.exclusiveMinimum) as number | undefined;
  const max = n.maximum as number | undefined;
  const gt = n.exclusiveMinimum !== undefined ? '>' : '≥';
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`;
  if (min !== undefined) return ` ${gt} ${min}`;
  return '';
}

/** A short human type: `integer 0–100`, `list of string`, `duration`, `"GET" \| "POST"`. */
function typeOf(n: Node): string {
  const anyOf = n.anyOf as Node[] | undefined;
  if (anyOf) {
    if (anyOf.every((b) => 'const' in b)) return anyOf.map((b) => `\`${JSON.stringify(b.const)}\``).join(' | ');
    if (typeof n.description === 'string' && !anyOf.every((b) => b.type === 'object')) return anyOf.map(typeOf).join(' or ');
    if (anyOf.every((b) => b.type === 'object')) return 'object (one of the forms below)';
    return anyOf.map(typeOf).join(' or ');
  }
  if ('const' in n) return `\`${JSON.stringify(n.const)}\``;
  switch (n.type) {
    case 'integer':
    case 'number':
      return `${String(n.type)}${range(n)}`;
    case 'string':
      return typeof n.pattern === 'string' ? `string (\`${n.pattern}\`)` : 'string';
    case 'boolean':
      return 'boolean';
    case 'array':
      return `list of ${typeOf(n.items as Node)}`;
    case 'object': {
      const patterns = n.patternProperties as Record<string, Node> | undefined;
      if (patterns) return `map of string to ${typeOf(Object.values(patterns)[0] as Node)}`;
      return 'object';
    }
    default:
      return 'any';
  }
}

function clean(text: unknown): string {
  return typeof text === 'string' ? text.replace(/\|/g, '\\|').replace(/\n/g, ' ') : '';
}

/** Fields documented once elsewhere: an App service's strategy is exactly a Rollout's. */
const SEE_ROLLOUT = 'spec.services[].strategy';

function walk(n: Node, path: string, required: boolean, rows: Row[]): void {
  if (path === SEE_ROLLOUT) {
    rows.push({ field: path, type: 'object', required, description: "exactly a Rollout's `spec.strategy` (see Rollout below)" });
    return;
  }
  if (path) rows.push({ field: path, type: typeOf(n), required, description: clean(n.description) });
  const anyOf = n.anyOf as Node[] | undefined;
  if (anyOf?.every((b) => b.type === 'object')) {
    for (const b of anyOf) walkProperties(b, path, rows);
    return;
  }
  if (n.type === 'array' && n.items) {
    const items = n.items as Node;
    if (items.type === 'object' || items.anyOf) walkChildren(items, `${path}[]`, rows);
    return;
  }
  if (n.type === 'object') walkProperties(n, path, rows);
}

function walkChildren(n: Node, path: string, rows: Row[]): void {
  const anyOf = n.anyOf as Node[] | undefined;
  if (anyOf?.every((b) => b.type === 'object')) {
    for (const b of anyOf) walkProperties(b, path, rows);
    return;
  }
  walkProperties(n, path, rows);
}

function walkProperties(n: Node, path: string, rows: Row[]): void {
  const props = n.properties as Record<string, Node> | undefined;
  if (!props) return;
  const required = new Set((n.required as string[] | undefined) ?? []);
  for (const [key, child] of Object.entries(props)) walk(child, path ? `${path}.${key}` : key, required.has(key), rows);
}

function table(schema: TSchema): string {
  const rows: Row[] = [];
  walkProperties(plain(schema), '', rows);
  const lines = ['| field | type | required | description |', '| --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| \`${r.field}\` | ${r.type.replace(/\|/g, '\\|')} | ${r.required ? 'yes' : ''} | ${r.description} |`);
  return lines.join('\n');
}

/** Markdown: one section per kind, one table row per field. */
export function documentReference(): string {
  const sections: [string, TSchema, string][] = [
    ['App', App, 'The single-host file: graylane runs the services (or routes to targets) behind its built-in router.'],
    ['Rollout', Rollout, `One service on Kubernetes, with Argo Rollouts' field names and meanings (\`${API_VERSION}\` or \`argoproj.io/v1alpha1\`).`],
    ['AnalysisTemplate', AnalysisTemplate, 'Metrics, arguments and the conditions that judge them (also `ClusterAnalysisTemplate`).'],
  ];
  return sections.map(([kind, schema, intro]) => `### ${kind}\n\n${intro}\n\n${table(schema)}\n`).join('\n');
}
