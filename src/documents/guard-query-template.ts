/**
 * The guard's PromQL templates (`strategy.canary.guard.prometheus`): `{{name}}` placeholders a
 * controller fills in per revision. Checked when a document loads, so a misspelt placeholder is a
 * validation error with the field's path, not a query that silently matches nothing on the
 * cluster. Pure.
 */
import type { CanaryStrategy, GuardPrometheus } from './schema.js';

/** The placeholders a template may use. */
export const GUARD_QUERY_PLACEHOLDERS = ['namespace', 'rollout', 'revision', 'service'] as const;

/** One placeholder's name. */
export type GuardQueryPlaceholder = (typeof GUARD_QUERY_PLACEHOLDERS)[number];

/** The template fields, in the order they are checked. */
export const GUARD_QUERY_FIELDS = ['requests', 'errors', 'latencyBuckets'] as const;

const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

/** The placeholder names a template uses, in order of appearance (unknown names included). */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/**
 * Problems of the guard's query templates, each with the field it is about: an unknown
 * placeholder, a template that cannot tell canary from stable (neither `{{revision}}` nor
 * `{{service}}`), `{{service}}` without canaryService and stableService to fill it, a template
 * left empty, errors without requests (or the reverse: the two are one ratio).
 */
export function guardTemplateProblems(prometheus: GuardPrometheus | undefined, canary: Pick<CanaryStrategy, 'canaryService' | 'stableService'>): { field: string; message: string }[] {
  if (!prometheus) return [];
  const out: { field: string; message: string }[] = [];
  if (prometheus.address !== undefined && !/^https?:\/\/[^/]/.test(prometheus.address)) out.push({ field: 'address', message: `${JSON.stringify(prometheus.address)} is not an http(s) URL` });
  if ((prometheus.requests === undefined) !== (prometheus.errors === undefined)) {
    out.push({ field: prometheus.requests === undefined ? 'requests' : 'errors', message: 'requests and errors are given together (the guard compares errors per request)' });
  }
  for (const field of GUARD_QUERY_FIELDS) {
    const template = prometheus[field];
    if (template === undefined) continue;
    if (template.trim() === '') {
      out.push({ field, message: 'is empty' });
      continue;
    }
    const used = placeholdersOf(template);
    const unknown = used.filter((p) => !(GUARD_QUERY_PLACEHOLDERS as readonly string[]).includes(p));
    if (unknown.length) out.push({ field, message: `unknown placeholder {{${unknown[0]}}}; use ${GUARD_QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}` });
    else if (!used.includes('revision') && !used.includes('service')) out.push({ field, message: 'names neither {{revision}} nor {{service}}, so canary and stable would read the same series' });
    if (used.includes('service') && (canary.canaryService === undefined || canary.stableService === undefined)) out.push({ field, message: '{{service}} needs strategy.canary.canaryService and stableService' });
  }
  return out;
}

/** Escapes a value for a PromQL double-quoted string. */
function promString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Fills a template checked by {@link guardTemplateProblems}; values are escaped for PromQL string
 * literals (the placeholders stand inside `"…"`).
 */
export function fillGuardTemplate(template: string, values: Readonly<Record<GuardQueryPlaceholder, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => ((GUARD_QUERY_PLACEHOLDERS as readonly string[]).includes(name) ? promString(values[name as GuardQueryPlaceholder]) : whole));
}
