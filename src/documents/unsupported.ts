/**
 * Argo Rollouts fields graylane does not run yet. An Argo document loads without them, and each
 * one left out is reported by its field path: never ignored silently. In a graylane document the
 * same fields are errors (the author wrote for graylane, so they would expect them to work).
 */
import type { PathSegment } from './source.js';

/** One field (or the whole step or metric holding it) to leave out. */
export interface UnsupportedField {
  /** Where the unsupported field is; the warning points here. */
  readonly path: PathSegment[];
  /** What is removed: the field itself, or the step/metric that cannot work without it. */
  readonly remove: PathSegment[];
  /** Why, for the warning. */
  readonly reason: string;
  /**
   * Leaving it out would change what the document means (or leave nothing to run): the document
   * is refused, naming the field, instead of loading without it.
   */
  readonly refuse?: boolean;
}

const FIELD = 'not supported by graylane yet; left out';

/** `*` matches any list index or mapping key. */
interface Rule {
  readonly pattern: readonly string[];
  /** How many trailing segments to drop from the match to get what is removed (0: the field). */
  readonly removeUp?: number;
  readonly reason?: (match: PathSegment[], data: unknown) => string;
  /** Keys under a `*` that are fine (used for plugin and provider names). */
  readonly except?: readonly string[];
  /** Refuse the document rather than leave the field out (see {@link UnsupportedField.refuse}); given the field's value and the document. */
  readonly refuse?: (value: unknown, data: unknown) => boolean;
}

const canary = ['spec', 'strategy', 'canary'];
const blueGreen = ['spec', 'strategy', 'blueGreen'];
const routing = [...canary, 'trafficRouting'];

const stepRule = (name: string): Rule => ({
  pattern: [...canary, 'steps', '*', name],
  removeUp: 1,
  reason: () => `${name} steps are not supported by graylane yet; the step is left out`,
});

const ROLLOUT_RULES: readonly Rule[] = [
  stepRule('experiment'),
  stepRule('plugin'),
  { pattern: [...canary, 'steps', '*', 'analysis', 'analysisRunMetadata'] },
  ...['antiAffinity', 'canaryMetadata', 'stableMetadata'].map((f) => ({ pattern: [...canary, f] })),
  {
    // Istio host splitting without pingPong needs canaryService and stableService: left out, the
    // document would be refused for lacking them, which is not what is wrong with it.
    pattern: [...canary, 'pingPong'],
    refuse: (_v, data) => getIn(data, [...routing, 'istio']) !== undefined && getIn(data, [...routing, 'istio', 'destinationRule']) === undefined
      && (getIn(data, [...canary, 'canaryService']) === undefined || getIn(data, [...canary, 'stableService']) === undefined),
    reason: () => 'pingPong is not supported yet (graylane splits Istio host traffic between canaryService and stableService)',
  },
  { pattern: [...canary, 'analysis', 'analysisRunMetadata'] },
  ...['alb', 'smi', 'ambassador', 'traefik', 'apisix', 'appMesh'].map((f) => ({
    pattern: [...routing, f],
    reason: () => `traffic routing through ${f} is not supported by graylane yet; left out`,
  })),
  {
    pattern: [...routing, 'plugins', '*'],
    except: ['argoproj-labs/gatewayAPI'],
    reason: (m) => `traffic router plugin "${String(m[m.length - 1])}" is not supported by graylane yet; left out`,
  },
  ...['antiAffinity', 'activeMetadata', 'previewMetadata', 'maxUnavailable'].map((f) => ({ pattern: [...blueGreen, f] })),
  { pattern: [...blueGreen, 'prePromotionAnalysis', 'analysisRunMetadata'] },
  { pattern: [...blueGreen, 'postPromotionAnalysis', 'analysisRunMetadata'] },
];

/** Metric providers graylane can query. */
export const SUPPORTED_PROVIDERS = ['prometheus', 'web', 'builtin', 'command', 'job'] as const;

const TEMPLATE_RULES: readonly Rule[] = [
  {
    pattern: ['spec', 'metrics', '*', 'provider', '*'],
    except: SUPPORTED_PROVIDERS,
    removeUp: 2,
    reason: (m, data) => {
      const metric = getIn(data, m.slice(0, 3)) as { name?: unknown } | undefined;
      const name = typeof metric?.name === 'string' ? ` "${metric.name}"` : '';
      return `metric provider "${String(m[m.length - 1])}" is not supported by graylane yet; metric${name} is left out`;
    },
  },
  { pattern: ['spec', 'metrics', '*', 'consecutiveSuccessLimit'] },
  { pattern: ['spec', 'metrics', '*', 'provider', 'prometheus', 'rangeQuery'] },
];

/** The rules for a kind; other kinds have none. */
function rulesFor(kind: string): readonly Rule[] {
  if (kind === 'Rollout') return ROLLOUT_RULES;
  if (kind === 'AnalysisTemplate' || kind === 'ClusterAnalysisTemplate') return TEMPLATE_RULES;
  return [];
}

export function getIn(data: unknown, path: readonly PathSegment[]): unknown {
  let node = data;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

function matchAll(data: unknown, pattern: readonly string[], except: readonly string[] = []): PathSegment[][] {
  let frontier: PathSegment[][] = [[]];
  for (let i = 0; i < pattern.length; i++) {
    const seg = pattern[i] as string;
    const last = i === pattern.length - 1;
    const next: PathSegment[][] = [];
    for (const p of frontier) {
      const node = getIn(data, p);
      if (node === null || typeof node !== 'object') continue;
      if (seg === '*') {
        if (Array.isArray(node)) node.forEach((_, j) => next.push([...p, j]));
        else for (const k of Object.keys(node)) if (!(last && except.includes(k))) next.push([...p, k]);
      } else if (!Array.isArray(node) && Object.prototype.hasOwnProperty.call(node, seg)) {
        next.push([...p, seg]);
      }
    }
    frontier = next;
  }
  return frontier;
}

/** Every unsupported Argo field in a document's data, in document order. */
export function findUnsupported(kind: string, data: unknown): UnsupportedField[] {
  const found: UnsupportedField[] = [];
  for (const rule of rulesFor(kind)) {
    for (const m of matchAll(data, rule.pattern, rule.except)) {
      const refuse = rule.refuse?.(getIn(data, m), data) ?? false;
      found.push({ path: m, remove: m.slice(0, m.length - (rule.removeUp ?? 0)), reason: rule.reason?.(m, data) ?? FIELD, ...(refuse ? { refuse } : {}) });
    }
  }
  return refuseEmptyTemplate(data, found).sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * A template whose every metric would be left out has nothing to measure: it is refused, naming
 * each unsupported provider, rather than failing later as "no metrics".
 */
function refuseEmptyTemplate(data: unknown, found: UnsupportedField[]): UnsupportedField[] {
  const metrics = getIn(data, ['spec', 'metrics']);
  if (!Array.isArray(metrics) || metrics.length === 0) return found;
  const gone = new Set(found.filter((f) => f.remove.length === 3 && f.remove[1] === 'metrics').map((f) => f.remove[2]));
  if (gone.size < metrics.length) return found;
  return found.map((f) => (f.remove.length === 3 && f.remove[1] === 'metrics'
    ? { ...f, refuse: true, reason: `metric provider "${String(f.path[f.path.length - 1])}" is not supported yet, and the template has no other metric` }
    : f));
}

function comparePaths(a: readonly PathSegment[], b: readonly PathSegment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as PathSegment;
    const y = b[i] as PathSegment;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

function isPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

/**
 * The removals in an order that keeps the rest valid: a path under another removal is dropped,
 * and later list items go before earlier ones so indices stay right.
 */
export function removalOrder(fields: readonly UnsupportedField[]): PathSegment[][] {
  const paths = fields.map((f) => f.remove);
  const kept = paths.filter((p, i) => !paths.some((q, j) => j !== i && isPrefix(q, p) && (q.length < p.length || j < i)));
  return kept.sort((a, b) => -comparePaths(a, b));
}

/** Removes `paths` (from {@link removalOrder}) from plain data, in place. */
export function removeFromData(data: unknown, paths: readonly PathSegment[][]): void {
  for (const p of paths) {
    const parent = getIn(data, p.slice(0, -1));
    const key = p[p.length - 1] as PathSegment;
    if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
    else if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[key];
  }
}
