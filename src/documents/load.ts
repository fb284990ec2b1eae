/**
 * Files → typed documents, or errors: never half. Each document goes through the same stages:
 * parse (positions kept) → sort by kind → Argo fields graylane lacks left out with a warning →
 * schema → pod template → semantic rules → references across all the files loaded together.
 */
import { readFile } from 'node:fs/promises';
import { SpecError, type SpecNote, type SpecWarning } from './errors.js';
import { API_VERSION, ARGO_API_VERSION, CanaryStep } from './schema.js';
import type { App as AppDoc, AnalysisTemplate as AnalysisTemplateDoc, Metric, Rollout as RolloutDoc, RolloutSpec } from './schema.js';
import { formatPath, parseSource, type Issue, type PathSegment, type SourceDocument } from './source.js';
import { findUnsupported, removalOrder, removeFromData } from './unsupported.js';
import { describe, nameUnion, validateSchema, type GeneratedValidator } from './validate.js';
import { validate as validateApp } from './validators/app.generated.js';
import { validate as validateRollout } from './validators/rollout.generated.js';
import { validate as validateAnalysisTemplate } from './validators/analysis-template.generated.js';
import { checkPodTemplate } from './pod-template.js';
import { checkAnalysisRefs, checkApp, checkRollout, documentAdvice } from './semantic.js';

nameUnion(CanaryStep, 'step');

/** Where a document came from: written for graylane, or an Argo Rollouts manifest read as is. */
export type DocumentOrigin = 'graylane' | 'argo';

interface DocumentBase {
  /** `graylane.dev/v1alpha1` or `argoproj.io/v1alpha1`, as written. */
  readonly apiVersion: string;
  /** `metadata.name`. */
  readonly name: string;
  /** The file it was read from. */
  readonly file: string;
  /** 1-based line where the document starts. */
  readonly line: number;
  /** Whether it was written for graylane or for Argo Rollouts. */
  readonly origin: DocumentOrigin;
}

/** A loaded document, typed by its kind (unsupported Argo fields already left out). */
export type LoadedDocument =
  | (DocumentBase & { readonly kind: 'Rollout'; readonly doc: RolloutDoc })
  | (DocumentBase & { readonly kind: 'AnalysisTemplate' | 'ClusterAnalysisTemplate'; readonly doc: AnalysisTemplateDoc })
  | (DocumentBase & { readonly kind: 'App'; readonly doc: AppDoc });

/** The kinds graylane reads. */
export const DOCUMENT_KINDS = ['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate', 'App'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** What a load gives: all the documents and no errors, or the errors and no documents. */
export interface LoadResult {
  /** Every document, in file order; empty when there is any error. */
  readonly documents: LoadedDocument[];
  /** One per bad location, sorted by file, line, column. */
  readonly errors: SpecError[];
  /** Argo fields left out, by field path. */
  readonly warnings: SpecWarning[];
  /** Documents passed over (other kinds). */
  readonly notes: SpecNote[];
}

/** A source of text with the name to use in messages. */
export interface SourceText {
  /** YAML or JSON, one or more documents. */
  readonly text: string;
  /** The file name for messages (`<stdin>` when there is none). */
  readonly file: string;
}

/** Internal: a document together with its source, for the loader and `importArgo`. */
export interface StagedDocument {
  readonly source: SourceDocument;
  readonly kind: DocumentKind;
  readonly origin: DocumentOrigin;
  /** Data with unsupported Argo fields removed. */
  readonly data: Record<string, unknown>;
  readonly removed: PathSegment[][];
  valid: boolean;
  /** Refused for a feature graylane lacks: its other checks would only report consequences of that. */
  readonly refused?: boolean;
}

const VALIDATORS = {
  Rollout: validateRollout as GeneratedValidator,
  AnalysisTemplate: validateAnalysisTemplate as GeneratedValidator,
  ClusterAnalysisTemplate: validateAnalysisTemplate as GeneratedValidator,
  App: validateApp as GeneratedValidator,
} as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Gathers errors, warnings and notes while loading. */
export class Collector {
  readonly errors: SpecError[] = [];
  readonly warnings: SpecWarning[] = [];
  readonly notes: SpecNote[] = [];

  issue(src: SourceDocument, i: Issue): void {
    const pos = src.position(i.path, i.at);
    this.errors.push(new SpecError({ code: i.code, file: src.file, line: pos.line, column: pos.column, path: formatPath(i.path), reason: i.reason }));
  }
}

/** Sorts a parsed document: one of ours (staged), passed over (noted), or not a document (error). */
function stage(src: SourceDocument, out: Collector): StagedDocument | undefined {
  const data = src.data;
  const start = src.start();
  if (!isRecord(data)) {
    out.errors.push(new SpecError({ code: 'document', file: src.file, line: start.line, column: start.column, path: '', reason: `expected a document with apiVersion and kind, found ${describe(data)}` }));
    return undefined;
  }
  const { apiVersion, kind } = data;
  for (const [field, v] of [['apiVersion', apiVersion], ['kind', kind]] as const) {
    if (typeof v !== 'string') {
      out.issue(src, { path: v === undefined ? [] : [field], at: 'value', code: 'document', reason: v === undefined ? `missing required field "${field}"` : `expected a string, found ${describe(v)}` });
      return undefined;
    }
  }
  const api = apiVersion as string;
  const k = kind as string;
  const ours = (DOCUMENT_KINDS as readonly string[]).includes(k);
  const group = api.split('/')[0];
  if (group === 'graylane.dev' && !ours) {
    out.issue(src, { path: ['kind'], at: 'value', code: 'document', reason: `unknown kind "${k}"; expected one of ${DOCUMENT_KINDS.join(', ')}` });
    return undefined;
  }
  const argo = api === ARGO_API_VERSION && k !== 'App';
  // An App under another apiVersion is still meant for graylane: the schema names the right one.
  if (!ours || (group !== 'graylane.dev' && !argo && k !== 'App')) {
    const meta = isRecord(data.metadata) && typeof data.metadata.name === 'string' ? ` "${data.metadata.name}"` : '';
    out.notes.push({ file: src.file, line: start.line, message: `passed over ${k}${meta}: not a graylane kind` });
    return undefined;
  }
  const origin: DocumentOrigin = argo ? 'argo' : 'graylane';
  const copy = structuredClone(data);
  const unsupported = findUnsupported(k, copy);
  for (const u of unsupported) {
    const pos = src.position(u.path, 'key');
    if (u.refuse) {
      out.issue(src, { path: u.path, at: 'key', code: 'unsupported', reason: u.reason });
    } else if (origin === 'argo') {
      out.warnings.push({ code: 'unsupported', file: src.file, line: pos.line, column: pos.column, path: formatPath(u.path), message: u.reason });
    } else {
      const field = u.path[u.path.length - 1];
      out.issue(src, { path: u.path, at: 'key', code: 'schema', reason: `"${String(field)}" is an Argo Rollouts feature graylane does not support yet` });
    }
  }
  const removed = removalOrder(unsupported);
  removeFromData(copy, removed);
  if (origin === 'argo' && k === 'Rollout') splitArgoSteps(src, copy, out);
  const refused = unsupported.some((u) => u.refuse);
  return { source: src, kind: k as DocumentKind, origin, data: copy, removed, valid: !refused && (origin === 'argo' || unsupported.length === 0), refused };
}

/** Step fields that take effect at once, in the order a split step runs them; the deciding one goes last. */
const IMMEDIATE_STEP_FIELDS = ['setHeaderRoute', 'setMirrorRoute', 'setCanaryScale'];

/**
 * Argo lets one step carry several fields (at most one of setWeight, pause, analysis, experiment,
 * with any of setCanaryScale, setHeaderRoute, setMirrorRoute); graylane's steps have one each. Such
 * a step becomes consecutive steps: the routes and scale first, then the one that decides when the
 * step ends. `analysis.startingStep` is moved to match, and a note says what happened.
 */
function splitArgoSteps(src: SourceDocument, data: Record<string, unknown>, out: Collector): void {
  const canary = (data.spec as { strategy?: { canary?: unknown } } | undefined)?.strategy?.canary;
  if (!isRecord(canary) || !Array.isArray(canary.steps)) return;
  const steps: unknown[] = canary.steps;
  const firstIndex: number[] = [];
  const split: unknown[] = [];
  steps.forEach((step, i) => {
    firstIndex.push(split.length);
    const keys = isRecord(step) ? Object.keys(step) : [];
    if (!isRecord(step) || keys.length < 2) return void split.push(step);
    const deciding = keys.filter((key) => !IMMEDIATE_STEP_FIELDS.includes(key));
    // Two deciding fields are an error Argo makes too: leave it to the schema to say so.
    if (deciding.length > 1) return void split.push(step);
    const order = [...IMMEDIATE_STEP_FIELDS.filter((key) => key in step), ...deciding];
    for (const key of order) split.push({ [key]: step[key] });
    const pos = src.position(['spec', 'strategy', 'canary', 'steps', i], 'value');
    out.notes.push({ file: src.file, line: pos.line, message: `spec.strategy.canary.steps[${i}] has ${keys.join(', ')}: graylane runs it as ${order.length} steps (${order.join(', ')}), so step numbers after it are higher than in Argo` });
  });
  if (split.length === steps.length) return;
  canary.steps = split;
  const analysis = canary.analysis;
  if (isRecord(analysis) && typeof analysis.startingStep === 'number') {
    analysis.startingStep = firstIndex[analysis.startingStep] ?? split.length;
  }
}

/**
 * Checks the loader cannot make itself, supplied by layers above it (the document layer knows no
 * expression language): each returns a reason, or undefined when all is well.
 */
export interface LoadChecks {
  /** Checks an analysis `successCondition` / `failureCondition`. */
  condition?: (expression: string) => string | undefined;
  /**
   * Checks the traffic routing of one strategy against the traffic providers it selects (the
   * document layer knows no provider): every problem, empty when none.
   */
  traffic?: (target: TrafficCheckTarget) => TrafficCheckIssue[];
  /** Checks an App's spec against what its data plane (`spec.router.type`) can do: every problem, paths from the spec. */
  dataPlane?: (spec: AppDoc['spec']) => Array<{ path: PathSegment[]; reason: string }>;
  /** Checks one analysis metric (count rules, its provider block): every problem, paths relative to the metric. */
  metric?: (metric: Metric) => Array<{ path: PathSegment[]; reason: string }>;
}

/** Where a strategy runs: a Kubernetes Rollout, or an App service or release on a single host. */
export type TrafficPlace = 'kubernetes' | 'single-host';

/** One strategy for {@link LoadChecks.traffic}. */
export interface TrafficCheckTarget {
  /** Where it runs, which decides the providers it may name. */
  place: TrafficPlace;
  /** A Rollout's spec, or `{ strategy }` of an App service or release. */
  spec: RolloutSpec;
}

/** A problem {@link LoadChecks.traffic} found. */
export interface TrafficCheckIssue {
  /** Field path from the object holding `strategy`, e.g. `['strategy', 'canary', 'trafficRouting', 'nginx']`. */
  path: PathSegment[];
  /** Why, as a sentence fragment. */
  reason: string;
}

/** Every strategy of a Rollout or App with its place and the path of the object holding it. */
function strategiesOf(kind: 'Rollout' | 'App', data: RolloutDoc | AppDoc): { base: PathSegment[]; target: TrafficCheckTarget }[] {
  if (kind === 'Rollout') return [{ base: ['spec'], target: { place: 'kubernetes', spec: (data as RolloutDoc).spec } }];
  const app = data as AppDoc;
  const out: { base: PathSegment[]; target: TrafficCheckTarget }[] = [];
  app.spec.services.forEach((svc, i) => {
    if (svc.strategy) out.push({ base: ['spec', 'services', i], target: { place: 'single-host', spec: { strategy: svc.strategy } } });
  });
  (app.spec.releases ?? []).forEach((rel, i) => out.push({ base: ['spec', 'releases', i], target: { place: 'single-host', spec: { strategy: rel.strategy } } }));
  return out;
}

function checkTraffic(kind: 'Rollout' | 'App', data: RolloutDoc | AppDoc, check: NonNullable<LoadChecks['traffic']>): Issue[] {
  return strategiesOf(kind, data).flatMap(({ base, target }) =>
    check(target).map((i): Issue => ({ path: [...base, ...i.path], reason: i.reason, code: 'semantic', at: 'value' })));
}

function checkConditions(t: AnalysisTemplateDoc, check: NonNullable<LoadChecks['condition']>): Issue[] {
  const out: Issue[] = [];
  t.spec.metrics.forEach((m, i) => {
    for (const field of ['successCondition', 'failureCondition'] as const) {
      const expr = m[field];
      const reason = expr === undefined ? undefined : check(expr);
      if (reason !== undefined) out.push({ path: ['spec', 'metrics', i, field], at: 'value', code: 'semantic', reason });
    }
  });
  return out;
}

/** Schema, pod template and semantic rules of one staged document. */
function checkOne(s: StagedDocument, checks: LoadChecks): Issue[] {
  const schemaIssues = validateSchema(VALIDATORS[s.kind], s.data);
  if (schemaIssues.length) return schemaIssues;
  if (s.kind === 'AnalysisTemplate' || s.kind === 'ClusterAnalysisTemplate') {
    const t = s.data as unknown as AnalysisTemplateDoc;
    const metricIssues = (check: NonNullable<LoadChecks['metric']>): Issue[] => t.spec.metrics.flatMap((m, i) =>
      check(m).map((issue): Issue => ({ path: ['spec', 'metrics', i, ...issue.path], reason: issue.reason, code: 'semantic', at: 'value' })));
    return [...(checks.condition ? checkConditions(t, checks.condition) : []), ...(checks.metric ? metricIssues(checks.metric) : [])];
  }
  if (s.kind === 'Rollout') {
    const r = s.data as unknown as RolloutDoc;
    const pod = r.spec.template !== undefined ? checkPodTemplate(r.spec.template, ['spec', 'template']) : [];
    return [...pod, ...checkRollout(r), ...(checks.traffic ? checkTraffic('Rollout', r, checks.traffic) : [])];
  }
  if (s.kind === 'App') {
    const app = s.data as unknown as AppDoc;
    const dataPlane = (checks.dataPlane?.(app.spec) ?? []).map((i): Issue => ({ path: ['spec', ...i.path], reason: i.reason, code: 'semantic', at: 'value' }));
    return [...checkApp(app), ...(checks.traffic ? checkTraffic('App', app, checks.traffic) : []), ...dataPlane];
  }
  return [];
}

/** Checks a set of sources as one: documents in one may refer to templates in another. */
export function stageAll(sources: readonly SourceText[], out: Collector = new Collector(), checks: LoadChecks = {}): { staged: StagedDocument[]; out: Collector } {
  const staged: StagedDocument[] = [];
  for (const { text, file } of sources) {
    const parsed = parseSource(text, file);
    out.errors.push(...parsed.errors);
    // An empty file (or one of comments) is almost always the wrong file, not "nothing to do".
    if (parsed.errors.length === 0 && parsed.documents.length === 0) {
      out.errors.push(new SpecError({ code: 'document', file, line: 0, column: 0, path: '', reason: 'no documents' }));
    }
    for (const src of parsed.documents) {
      const s = stage(src, out);
      if (s) staged.push(s);
    }
  }
  for (const s of staged) {
    if (s.refused) continue;
    const issues = checkOne(s, checks);
    for (const i of issues) out.issue(s.source, i);
    if (issues.length) s.valid = false;
  }
  // Identity and references, across everything loaded together.
  const seen = new Map<string, StagedDocument>();
  for (const s of staged) {
    const meta = s.data.metadata as { name?: unknown; namespace?: unknown } | undefined;
    if (typeof meta?.name !== 'string') continue;
    const id = `${s.kind}/${typeof meta.namespace === 'string' ? meta.namespace : ''}/${meta.name}`;
    const first = seen.get(id);
    if (first) {
      const p = first.source.start();
      out.issue(s.source, { path: ['metadata', 'name'], at: 'value', code: 'duplicate', reason: `duplicate ${s.kind} "${meta.name}" (also at ${first.source.file}:${p.line})` });
    } else seen.set(id, s);
  }
  const templates = staged.filter((s) => s.valid && (s.kind === 'AnalysisTemplate' || s.kind === 'ClusterAnalysisTemplate')).map((s) => s.data as unknown as AnalysisTemplateDoc);
  const templatesLoaded = staged.some((s) => s.kind === 'AnalysisTemplate' || s.kind === 'ClusterAnalysisTemplate');
  for (const s of staged) {
    if (!s.valid || (s.kind !== 'Rollout' && s.kind !== 'App')) continue;
    // A template that failed its own checks still counts as known, so only its own error shows.
    const known = templatesLoaded ? [...templates, ...staged.filter((t) => !t.valid && (t.kind === 'AnalysisTemplate' || t.kind === 'ClusterAnalysisTemplate')).map(placeholderTemplate)] : [];
    for (const i of checkAnalysisRefs(s.data as unknown as RolloutDoc | AppDoc, known)) out.issue(s.source, i);
    for (const a of documentAdvice(s.data as unknown as RolloutDoc | AppDoc)) {
      const pos = s.source.position(a.path, 'key');
      if (a.level === 'warning') out.warnings.push({ code: 'advice', file: s.source.file, line: pos.line, column: pos.column, path: formatPath(a.path), message: a.message });
      else out.notes.push({ file: s.source.file, line: pos.line, message: `${formatPath(a.path)}: ${a.message}` });
    }
  }
  return { staged, out };
}

/** A template that failed validation, reduced to its identity (its args are unknown, so none are required). */
function placeholderTemplate(s: StagedDocument): AnalysisTemplateDoc {
  const meta = s.data.metadata as { name?: unknown } | undefined;
  return { apiVersion: API_VERSION, kind: s.kind as 'AnalysisTemplate', metadata: { name: typeof meta?.name === 'string' ? meta.name : '' }, spec: { metrics: [] } };
}

function byPosition(a: { file: string; line: number; column: number }, b: { file: string; line: number; column: number }): number {
  return a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1;
}

function finish(staged: StagedDocument[], out: Collector): LoadResult {
  out.warnings.sort(byPosition);
  const errors = out.errors.sort(byPosition);
  if (errors.length) return { documents: [], errors, warnings: out.warnings, notes: out.notes };
  const documents = staged.map((s): LoadedDocument => {
    const meta = s.data.metadata as { name: string };
    return {
      kind: s.kind,
      apiVersion: s.data.apiVersion as string,
      name: meta.name,
      file: s.source.file,
      line: s.source.start().line,
      origin: s.origin,
      doc: s.data,
    } as unknown as LoadedDocument;
  });
  return { documents, errors: [], warnings: out.warnings, notes: out.notes };
}

/** Loads documents from text (one file's worth). */
export function loadDocuments(source: SourceText, checks: LoadChecks = {}): LoadResult {
  const { staged, out } = stageAll([source], new Collector(), checks);
  return finish(staged, out);
}

/** Loads several files as one set (templates in one file satisfy references in another). */
export async function loadFiles(paths: readonly string[], checks: LoadChecks = {}): Promise<LoadResult> {
  const out = new Collector();
  const sources: SourceText[] = [];
  for (const file of paths) {
    try {
      sources.push({ file, text: await readFile(file, 'utf8') });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      out.errors.push(new SpecError({ code: 'read', file, line: 1, column: 1, path: '', reason: `cannot read: ${why}` }));
    }
  }
  const { staged } = stageAll(sources, out, checks);
  return finish(staged, out);
}
