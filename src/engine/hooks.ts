/**
 * Rollout hooks (`spec.hooks`): commands or Jobs for the changes a new revision needs outside
 * itself, such as database migrations. A hook is a gate like an analysis and runs through the
 * same machinery: the engine asks for a one-metric run (provider `command` or `job`, count 1,
 * no failure, error or inconclusive allowed) and watches its phase.
 *
 * - preRollout runs before the new revision has any instance or traffic; a failure aborts.
 * - prePromotion runs before the last switch to all traffic; a failure aborts.
 * - postPromotion runs once the new revision is stable. It cannot un-promote: stable already
 *   serves everyone, and the hook (a "contract" migration) may have changed what the old revision
 *   needs. Its failure is an event and a Degraded phase until the next rollout.
 *
 * Hooks belong to rolling forward: a rollback to an earlier revision (undo, rollbackWindow, a
 * warm switch back) and the first deploy run none. A retry runs them again (a new attempt); so
 * does promote --full, which skips judgement, not prerequisites.
 */
import type { AnalysisTemplateSpec, Hook, Metric } from '../documents/schema.js';
import { runName, type Context } from './context.js';
import type { AnalysisRunRecord, HookKind, HookName } from './types.js';

/** Seconds a hook may run when it names no `timeoutSeconds`. */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 600;

/** The status reason of a rollout aborted by a failed preRollout or prePromotion hook. */
export const HOOK_FAILED_REASON = 'HookFailed';

/** The status reason of a rollout whose postPromotion hook failed after promotion. */
export const POST_PROMOTION_HOOK_FAILED_REASON = 'PostPromotionHookFailed';

/** The analysis kind of a hook's run. */
export function hookKind(name: HookName): HookKind {
  return `${name}Hook`;
}

/**
 * The template a hook runs as: one metric named after the hook, measured once; the command's exit
 * code (or the Job's success) is the verdict, and an error (it could not start, or timed out)
 * fails it at once rather than being retried.
 */
export function hookTemplate(name: HookName, hook: Hook): AnalysisTemplateSpec {
  const timeoutSeconds = hook.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS;
  let provider: Metric['provider'];
  if (hook.job) {
    const spec: Record<string, unknown> = { ...hook.job.spec };
    // A Job's own deadline is the timeout on the cluster; one the Job names wins.
    spec.activeDeadlineSeconds ??= timeoutSeconds;
    provider = { job: { ...(hook.job.metadata ? { metadata: structuredClone(hook.job.metadata) } : {}), spec: structuredClone(spec) } };
  } else {
    provider = { command: { command: [...(hook.command ?? [])], ...(hook.env ? { env: { ...hook.env } } : {}), timeoutSeconds } };
  }
  return { metrics: [{ name, provider, count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 }] };
}

/**
 * Whether rolling out `revision` goes back: to a revision older than the stable one (an undo), or
 * inside rollbackWindow. Age is the order of the observed revisions (oldest first); `from` is the
 * stable revision unless given (at a promotion, the one being replaced).
 */
export function isRollback(ctx: Context, revision: string, from = ctx.status.stableRevision ?? ''): boolean {
  if (ctx.status.rollbackWithinWindow) return true;
  const names = ctx.revisions.map((r) => r.name);
  const target = names.indexOf(revision);
  const stable = names.indexOf(from);
  return target >= 0 && stable >= 0 && target < stable;
}

/**
 * The preRollout or prePromotion gate of the revision being rolled out: `passed` when there is
 * no such hook (or the rollout goes back), `waiting` while it runs, `failed` once it failed, the
 * rollout then aborted with the hook named in the reason.
 */
export function hookGate(ctx: Context, name: 'preRollout' | 'prePromotion'): 'passed' | 'waiting' | 'failed' {
  const { status: s } = ctx;
  const hook = ctx.spec.hooks?.[name];
  const revision = s.canaryRevision ?? '';
  if (!hook || s.abort || revision === s.stableRevision || isRollback(ctx, revision)) return 'passed';
  const run = startHook(ctx, name, hook, revision, runName(revision, s.attempt, hookKind(name)));
  if (run.phase === 'Successful') return 'passed';
  if (run.phase === 'Running' || run.phase === 'Pending') return 'waiting';
  ctx.abort(HOOK_FAILED_REASON, `${name} hook failed${run.message ? `: ${run.message}` : ''}`);
  return 'failed';
}

/** At a promotion from `previous` to `next`: a roll forward owes the postPromotion hook, if there is one. */
export function owePostPromotionHook(ctx: Context, previous: string, next: string): void {
  const { status: s } = ctx;
  if (!ctx.spec.hooks?.postPromotion || previous === next || isRollback(ctx, next, previous)) return;
  s.postPromotionHook = runName(next, s.attempt, hookKind('postPromotion'));
  ctx.promotedNow = true;
}

/** How soon a postPromotion hook waiting for the promotion's traffic looks again. */
const SWITCH_RETRY_MS = 1000;

/**
 * Runs the postPromotion hook a promotion owes and follows it to its end. Its failure leaves the
 * new revision stable and the rollout Degraded (`hookFailure`) until the next rollout.
 */
export function followPostPromotionHook(ctx: Context): void {
  const { status: s } = ctx;
  const name = s.postPromotionHook;
  if (name === undefined) return;
  const hook = ctx.spec.hooks?.postPromotion;
  if (!hook || !s.stableRevision) {
    // Taken out of the spec before it started: nothing is owed any more.
    s.postPromotionHook = undefined;
    return;
  }
  // The contract a postPromotion hook makes may break the old revision: it starts only once the
  // switch is in force (the pass after the promotion, and verified where the provider can tell),
  // not beside the switch, while the old revision still takes every request.
  if (!s.analysisRuns.some((r) => r.name === name) && (ctx.promotedNow || ctx.trafficVerified === false)) {
    ctx.wakeAt(ctx.now + SWITCH_RETRY_MS);
    return;
  }
  const run = startHook(ctx, 'postPromotion', hook, s.stableRevision, name);
  if (run.phase === 'Running' || run.phase === 'Pending') return;
  s.postPromotionHook = undefined;
  if (run.phase === 'Successful') return;
  s.hookFailure = `postPromotion hook failed${run.message ? `: ${run.message}` : ''}; revision ${s.stableRevision} stays stable (a hook after promotion cannot undo it)`;
  ctx.event('warning', POST_PROMOTION_HOOK_FAILED_REASON, s.hookFailure);
}

/** The hook's run record, started (with an event) when it does not exist yet; an event when it ends. */
function startHook(ctx: Context, name: HookName, hook: Hook, revision: string, run: string): AnalysisRunRecord {
  const { status: s } = ctx;
  const before = s.analysisRuns.find((r) => r.name === run)?.phase;
  const existing = ctx.run(run);
  if (existing) {
    if (existing.phase !== before && existing.phase === 'Successful') ctx.event('info', 'HookSucceeded', `${name} hook of ${revision} succeeded`);
    return existing;
  }
  const kind = hookKind(name);
  const record: AnalysisRunRecord = { name: run, kind, revision, phase: 'Running' };
  s.analysisRuns.push(record);
  ctx.actions.push({ type: 'startAnalysis', name: run, kind, analysis: { templates: [] }, revision, hook: { name, template: hookTemplate(name, hook) } });
  ctx.event('info', 'HookStarted', `${name} hook of ${revision} started: ${describeHook(hook)}`);
  return record;
}

function describeHook(hook: Hook): string {
  return hook.job ? 'a Job' : (hook.command ?? []).join(' ');
}
