/**
 * A renderer for the few Go-template constructs graylane's Helm chart allows itself (helm is not
 * installed here): `{{ .Values.a.b }}`, `{{ .Release.Namespace }}`, `{{ .Chart.AppVersion }}`,
 * `toYaml X | nindent N`, `{{ if .Values.a }} … {{ else }} … {{ end }}` (not nested; Go
 * template's truthiness), and the `{{-` / `-}}` whitespace trims. Anything else is refused, so the
 * chart cannot grow a construct its test would not render.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

/** What a template is rendered with. */
export interface ChartContext {
  readonly values: Record<string, unknown>;
  readonly releaseNamespace: string;
  readonly appVersion: string;
}

/** A template construct this renderer does not know, or a value that is not there. */
export class ChartRenderError extends Error {
  override readonly name = 'ChartRenderError';
  constructor(
    readonly code: 'unsupported-construct' | 'missing-value' | 'not-a-scalar',
    message: string,
  ) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function lookup(context: ChartContext, path: string): unknown {
  const [root, ...rest] = path.slice(1).split('.');
  let at: unknown;
  if (root === 'Values') at = context.values;
  else if (path === '.Release.Namespace') return context.releaseNamespace;
  else if (path === '.Chart.AppVersion') return context.appVersion;
  else throw new ChartRenderError('unsupported-construct', `{{ ${path} }} is not one of .Values.*, .Release.Namespace, .Chart.AppVersion`);
  for (const key of rest) at = isRecord(at) ? at[key] : undefined;
  if (at === undefined) throw new ChartRenderError('missing-value', `${path} has no value`);
  return at;
}

function evaluate(expression: string, context: ChartContext): string {
  const toYaml = /^toYaml (\.[\w.]+) \| nindent (\d+)$/.exec(expression);
  if (toYaml) {
    const indent = ' '.repeat(Number(toYaml[2]));
    const text = stringify(lookup(context, toYaml[1]!), { lineWidth: 0 }).trimEnd();
    return `\n${text.split('\n').map((line) => indent + line).join('\n')}`;
  }
  if (/^\.[\w.]+$/.test(expression)) {
    const value = lookup(context, expression);
    if (typeof value === 'object' && value !== null) throw new ChartRenderError('not-a-scalar', `{{ ${expression} }} is not a scalar: use toYaml`);
    return String(value);
  }
  throw new ChartRenderError('unsupported-construct', `{{ ${expression} }} is not a construct the chart's test renders`);
}

/** Go template's truth: false, 0, "", an empty list or map, and nil are false. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isRecord(value)) return Object.keys(value).length > 0;
  return value !== false && value !== 0 && value !== '' && value !== null;
}

const IF_BLOCK = /\{\{ if (\.[\w.]+) \}\}([\s\S]*?)(?:\{\{ else \}\}([\s\S]*?))?\{\{ end \}\}/g;

/** One template's text rendered with `context`. */
export function renderTemplate(template: string, context: ChartContext): string {
  // Helm's trims: `{{-` eats the whitespace (newlines included) before it, `-}}` the whitespace after.
  const trimmed = template.replace(/\s*\{\{-\s+/g, '{{ ').replace(/\s+-\}\}\s*/g, ' }}');
  const chosen = trimmed.replace(IF_BLOCK, (_m, condition: string, then: string, otherwise: string | undefined) => {
    if (/\{\{ if /.test(then) || /\{\{ if /.test(otherwise ?? '')) throw new ChartRenderError('unsupported-construct', 'a nested {{ if }} is not a construct the chart\'s test renders');
    return truthy(lookup(context, condition)) ? then : (otherwise ?? '');
  });
  return chosen.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expression: string) => evaluate(expression, context));
}

/** The objects of one rendered YAML text, without the empty documents Helm skips too. */
export function objectsOf(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0]!;
    const value = doc.toJS() as unknown;
    return isRecord(value) ? [value] : [];
  });
}

/** A chart folder read as Helm reads it. */
export interface Chart {
  readonly chart: Record<string, unknown>;
  readonly values: Record<string, unknown>;
  /** File name → text, under templates/. */
  readonly templates: Record<string, string>;
  /** File name → text, under crds/ (never templated). */
  readonly crds: Record<string, string>;
}

function yamlFiles(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Reads a chart folder. */
export function readChart(dir: string): Chart {
  return {
    chart: parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>,
    values: parse(readFileSync(join(dir, 'values.yaml'), 'utf8')) as Record<string, unknown>,
    templates: yamlFiles(join(dir, 'templates')),
    crds: yamlFiles(join(dir, 'crds')),
  };
}

/** Deep merge of value overrides, as `helm install --set`/`-f` does (objects merge, the rest replaces). */
export function mergeValues(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) out[k] = isRecord(v) && isRecord(out[k]) ? mergeValues(out[k], v) : v;
  return out;
}

/** Every object the chart installs: its CRDs, then its rendered templates. */
export function renderChart(chart: Chart, options: { releaseNamespace: string; values?: Record<string, unknown> }): Record<string, unknown>[] {
  const context: ChartContext = {
    values: mergeValues(chart.values, options.values ?? {}),
    releaseNamespace: options.releaseNamespace,
    appVersion: String(chart.chart.appVersion),
  };
  return [
    ...Object.values(chart.crds).flatMap(objectsOf),
    ...Object.values(chart.templates).flatMap((t) => objectsOf(renderTemplate(t, context))),
  ];
}
