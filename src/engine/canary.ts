import { parseDurationMs } from '../lib/duration.js';
import type { CanaryStep, CanaryStrategy } from '../documents/schema.js';
import { DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, DEFAULT_SCALE_DOWN_DELAY_SECONDS, runName, type Context } from './context.js';
import { describeStep } from './describe.js';
import { followPostPromotionHook, hookGate, owePostPromotionHook } from './hooks.js';
import { desiredReplicaCounts, maxTrafficWeight, trafficWeightToReplicas, type DesiredReplicaCounts, type RevisionReplicas } from './replica-counts.js';
import { currentSetWeight } from './steps.js';
import type { AnalysisRunRecord } from './types.js';

/** Canary (with steps) and rolling update (without): steps, background analysis, abort, promotion. */
export function reconcileCanary(ctx: Context, canary: CanaryStrategy): void {
  const { status: s } = ctx;
  const steps = canary.steps ?? [];
  if (s.canaryRevision === s.stableRevision) return settle(ctx, canary);
  if (hookGate(ctx, 'preRollout') === 'waiting') return waitForHook(ctx, canary);
  if (s.promoteFull) {
    s.pauseConditions = [];
    // promote --full skips judgement, not the prerequisite: the last switch still waits for the hook.
    if (hookGate(ctx, 'prePromotion') !== 'waiting') s.currentStepIndex = steps.length;
  }
  if (!s.abort) trackEvidence(ctx);
  if (!s.abort && !s.promoteFull) advanceSteps(ctx, canary, steps);
  if (!s.abort) backgroundAnalysis(ctx, canary);
  if (s.abort) {
    s.currentStepIndex = 0;
    s.headerRoutes = [];
    s.mirrorRoutes = [];
  }
  const counts = countsNow(ctx, canary);
  const atDesired = atDesiredCounts(ctx, canary, counts);
  if (!s.abort && s.currentStepIndex >= steps.length && atDesired && fullyRolledOut(ctx, canary)) return promote(ctx, canary);
  applyCounts(ctx, canary, counts);
  setTraffic(ctx, canary, trafficWeight(ctx, canary, atDesired));
}

/** What the replica math says for the status as it stands. */
function countsNow(ctx: Context, canary: CanaryStrategy): DesiredReplicaCounts {
  const { status: s } = ctx;
  const stable = s.stableRevision ?? '';
  const current = s.canaryRevision ?? '';
  const older = ctx.revisions
    .filter((r) => r.name !== stable && r.name !== current && !ctx.hold.has(r.name) && (r.replicas > 0 || r.readyReplicas > 0))
    .map((r): RevisionReplicas => ({ name: r.name, replicas: r.replicas, availableReplicas: r.readyReplicas }));
  const counts = desiredReplicaCounts({
    rollout: {
      spec: { ...ctx.spec, strategy: { canary } },
      status: {
        currentStepIndex: s.currentStepIndex, abort: s.abort, promoteFull: s.promoteFull, stableRS: stable, currentPodHash: current,
        canary: { weights: { canary: { weight: s.weights.canary }, stable: { weight: s.weights.stable } } },
      },
    },
    stable: ctx.rs(stable),
    // The new revision exists (with no instances) as soon as it is desired, as Argo creates its ReplicaSet first.
    canary: ctx.rs(current) ?? { name: current, replicas: 0, availableReplicas: 0 },
    older,
  });
  // Without a stable revision's instances there is nothing to size (Argo leaves a missing stable alone).
  return ctx.rs(stable) ? counts : { ...counts, stable: 0 };
}

/** As Argo's AtDesiredReplicaCountsForCanary: the canary is at its size and ready; stable at its size. */
function atDesiredCounts(ctx: Context, canary: CanaryStrategy, counts: DesiredReplicaCounts): boolean {
  const { status: s } = ctx;
  const current = s.canaryRevision ?? '';
  const canaryCount = Math.max(counts.canary, manualCanaryCount(ctx, canary));
  if (!(ctx.asked(current) === canaryCount && ctx.ready(current) === canaryCount)) return false;
  const routed = !!canary.trafficRouting && (canary.steps ?? []).length > 0;
  if (!routed || !canary.dynamicStableScale) {
    if (ctx.asked(s.stableRevision) !== counts.stable) return false;
  }
  if (!routed) {
    // Without a traffic router every older instance still takes requests.
    const others = ctx.revisions.filter((r) => r.name !== s.stableRevision && r.name !== current && !ctx.hold.has(r.name));
    if (others.some((r) => r.readyReplicas > 0)) return false;
  }
  return true;
}

/** Every instance of the new revision up and ready; without a router, nothing else left serving. */
function fullyRolledOut(ctx: Context, canary: CanaryStrategy): boolean {
  const current = ctx.status.canaryRevision ?? '';
  if (ctx.asked(current) !== ctx.replicas || ctx.ready(current) < ctx.replicas) return false;
  const routed = !!canary.trafficRouting && (canary.steps ?? []).length > 0;
  return routed || ctx.asked(ctx.status.stableRevision) === 0;
}

function manualCanaryCount(ctx: Context, canary: CanaryStrategy): number {
  if (ctx.status.manualWeight === undefined || !canary.trafficRouting) return 0;
  return trafficWeightToReplicas(ctx.replicas, ctx.status.manualWeight, maxTrafficWeight(canary));
}

/** How soon a rollout held on unverified traffic looks again. */
const VERIFY_RETRY_MS = 1000;

function advanceSteps(ctx: Context, canary: CanaryStrategy, steps: readonly CanaryStep[]): void {
  const { status: s } = ctx;
  if (ctx.trafficVerified === false && s.currentStepIndex < steps.length) {
    // The data plane has not caught up with the decision in force: judging or timing the step now
    // would judge or time traffic that is not flowing yet.
    ctx.wakeAt(ctx.now + VERIFY_RETRY_MS);
    return;
  }
  while (s.currentStepIndex < steps.length) {
    if (ctx.pausedBy('UserPause') || ctx.spec.paused) return;
    const index = s.currentStepIndex;
    const step = steps[index];
    const weightBefore = s.weights.canary;
    if (!step || !stepDone(ctx, canary, step, index) || s.abort) return;
    // The last switch to all traffic waits for the prePromotion hook: the weight of the step the
    // index points at is in force at once, so the gate stands before moving onto a step to full
    // weight, or past the last step.
    const next = steps[index + 1];
    const switchesAll = next === undefined || ('setWeight' in next && next.setWeight >= (canary.trafficRouting?.maxTrafficWeight ?? 100));
    if (switchesAll && hookGate(ctx, 'prePromotion') !== 'passed') return;
    reportEvidence(ctx, canary, step, index, steps.length);
    s.currentStepIndex = index + 1;
    trackEvidence(ctx);
    s.controllerPause = false;
    s.manualWeight = undefined;
    ctx.unpause('CanaryPauseStep');
    ctx.event('info', 'RolloutStepCompleted', `Step ${index + 1}/${steps.length} completed: ${describeStep(step, maxTrafficWeight(canary))}`);
    // A new weight goes out with this pass's decision; where it is verified, the next step waits for that.
    if (ctx.trafficVerified !== undefined && s.weights.canary !== weightBefore) {
      ctx.wakeAt(ctx.now + VERIFY_RETRY_MS);
      return;
    }
  }
}

function stepDone(ctx: Context, canary: CanaryStrategy, step: CanaryStep, index: number): boolean {
  const { status: s } = ctx;
  if ('setWeight' in step || 'setCanaryScale' in step) {
    if (!atDesiredCounts(ctx, canary, countsNow(ctx, canary))) return false;
    if ('setWeight' in step && canary.trafficRouting) s.weights = { canary: step.setWeight, stable: 100 - step.setWeight };
    return true;
  }
  if ('pause' in step) {
    // The pause's time is up and it waits for evidence, with the deadline clock running.
    if (s.evidence?.waitingSinceMs !== undefined) return evidenceShort(ctx, canary) === undefined;
    if (!ctx.pausedBy('CanaryPauseStep')) {
      // No condition after the engine paused here means a person resumed.
      if (s.controllerPause) return true;
      ctx.pause('CanaryPauseStep');
      s.controllerPause = true;
    }
    const cond = ctx.pausedBy('CanaryPauseStep');
    if (!cond || step.pause.duration === undefined) return false;
    const endMs = cond.startedAtMs + parseDurationMs(step.pause.duration);
    if (ctx.now < endMs) {
      ctx.wakeAt(endMs);
      return false;
    }
    const short = evidenceShort(ctx, canary);
    if (short === undefined || !s.evidence) return true;
    // Time is up but the canary has not served enough to be judged: no longer a pause (so the
    // progress deadline bounds the wait), still this step until the requests come.
    ctx.unpause('CanaryPauseStep');
    s.evidence.waitingSinceMs = ctx.now;
    ctx.event('info', 'WaitingForEvidence', `Step ${index + 1}/${(canary.steps ?? []).length} (${describeStep(step, maxTrafficWeight(canary))}) time is up; ${waitingForEvidence(ctx) ?? ''}`);
    return false;
  }
  if ('analysis' in step) {
    const revision = s.canaryRevision ?? '';
    const run = ctx.startRun(runName(revision, s.attempt, 'step', index), 'step', step.analysis, revision, index);
    return run !== undefined && judge(ctx, run) === 'passed';
  }
  if ('setHeaderRoute' in step) {
    const { name, match } = step.setHeaderRoute;
    s.headerRoutes = s.headerRoutes.filter((r) => r.name !== name);
    if (match?.length) s.headerRoutes.push({ name, match });
    return true;
  }
  const { name, match, percentage } = step.setMirrorRoute;
  s.mirrorRoutes = s.mirrorRoutes.filter((r) => r.name !== name);
  if (match?.length) s.mirrorRoutes.push({ name, match, percentage: percentage ?? 100 });
  return true;
}

/** Minimum canary requests per timed pause step; 0 never waits. */
function minCanaryRequests(canary: CanaryStrategy): number {
  return canary.guard?.minCanaryRequests ?? 0;
}

/** Requests the canary served during the current step, when the controller counts them. */
function servedThisStep(ctx: Context): number | undefined {
  const { status: s } = ctx;
  if (ctx.canaryRequests === undefined || !s.evidence || s.evidence.stepIndex !== s.currentStepIndex || s.evidence.attempt !== s.attempt) return undefined;
  return Math.max(0, ctx.canaryRequests - s.evidence.baselineRequests);
}

/** Keeps the counter's value at the start of the current step (a new step, attempt or revision starts afresh). */
function trackEvidence(ctx: Context): void {
  const { status: s } = ctx;
  const n = ctx.canaryRequests;
  if (n === undefined) return;
  if (!s.evidence || s.evidence.stepIndex !== s.currentStepIndex || s.evidence.attempt !== s.attempt) s.evidence = { attempt: s.attempt, stepIndex: s.currentStepIndex, baselineRequests: n };
  // The router restarted and counts from 0 again: everything it counted since is this step's.
  else if (n < s.evidence.baselineRequests) s.evidence.baselineRequests = 0;
}

/** How many requests the current step still lacks, or undefined when it has enough (or nothing counts). */
function evidenceShort(ctx: Context, canary: CanaryStrategy): number | undefined {
  const served = servedThisStep(ctx);
  const min = minCanaryRequests(canary);
  if (served === undefined || served >= min) return undefined;
  return min - served;
}

/** "waiting for evidence: …" while a pause whose time is up waits for canary requests. */
export function waitingForEvidence(ctx: Context): string | undefined {
  const { status: s } = ctx;
  const canary = ctx.spec.strategy.canary;
  if (!canary || s.evidence?.waitingSinceMs === undefined || s.evidence.stepIndex !== s.currentStepIndex) return undefined;
  return `waiting for evidence: the canary served ${servedThisStep(ctx) ?? 0} of ${minCanaryRequests(canary)} requests (guard.minCanaryRequests)`;
}

/** A judging step (pause or analysis) that ends with too few canary requests says so. */
function reportEvidence(ctx: Context, canary: CanaryStrategy, step: CanaryStep, index: number, total: number): void {
  if (!('pause' in step) && !('analysis' in step)) return;
  const served = servedThisStep(ctx);
  if (served === undefined || served >= Math.max(1, minCanaryRequests(canary))) return;
  const what = `promoted without evidence: the canary served ${served} ${served === 1 ? 'request' : 'requests'}`;
  ctx.status.evidenceWarning = `${what} at step ${index + 1}/${total}`;
  ctx.event('warning', 'PromotedWithoutEvidence', `Step ${index + 1}/${total} (${describeStep(step, maxTrafficWeight(canary))}) ended: ${what} during it`);
}

/**
 * What a run's phase means for the rollout: failed and error abort; inconclusive pauses until a
 * person promotes (which acknowledges it); successful passes.
 */
export function judge(ctx: Context, run: AnalysisRunRecord): 'passed' | 'waiting' | 'failed' {
  switch (run.phase) {
    case 'Successful':
      return 'passed';
    case 'Failed':
    case 'Error':
      ctx.abort('AnalysisFailed', `${run.kind} analysis ${run.name} ${run.phase === 'Error' ? 'errored' : 'failed'}${run.message ? `: ${run.message}` : ''}`);
      return 'failed';
    case 'Inconclusive':
      if (run.acknowledged) return 'passed';
      ctx.pause('InconclusiveAnalysis');
      return 'waiting';
    default:
      return 'waiting';
  }
}

function backgroundAnalysis(ctx: Context, canary: CanaryStrategy): void {
  const { status: s } = ctx;
  // A rollback inside rollbackWindow goes back to a revision already judged (as Argo since 1.8).
  if (!canary.analysis || s.rollbackWithinWindow || s.currentStepIndex < (canary.analysis.startingStep ?? 0)) return;
  const revision = s.canaryRevision ?? '';
  const run = ctx.startRun(runName(revision, s.attempt, 'background'), 'background', canary.analysis, revision);
  if (run) judge(ctx, run);
}

function applyCounts(ctx: Context, canary: CanaryStrategy, counts: DesiredReplicaCounts): void {
  const { status: s } = ctx;
  const current = s.canaryRevision ?? '';
  const stable = s.stableRevision ?? '';
  ctx.scale.set(stable, counts.stable);
  ctx.scale.set(current, Math.max(counts.canary, manualCanaryCount(ctx, canary)));
  for (const o of counts.older) ctx.scale.set(o.name, o.replicas);
  const routed = !!canary.trafficRouting && (canary.steps ?? []).length > 0;
  if (ctx.crashLooped) {
    // Kept warm it would only go on crashing: it stops now, whatever the abort delay.
    ctx.scale.set(current, 0);
    return;
  }
  if (s.abort && routed) {
    // Behind a router the aborted canary carries no traffic; keep it warm for a while (0 = for good).
    const delaySeconds = canary.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS;
    const untilMs = (s.abortedAtMs ?? ctx.now) + delaySeconds * 1000;
    if (delaySeconds === 0 || ctx.now < untilMs) ctx.hold.add(current);
    if (delaySeconds > 0) ctx.wakeAt(untilMs);
  }
}

function trafficWeight(ctx: Context, canary: CanaryStrategy, atDesired: boolean): number {
  const { status: s } = ctx;
  const steps = canary.steps ?? [];
  const current = s.canaryRevision ?? '';
  if (!canary.trafficRouting || steps.length === 0) {
    // Instances are the split: report the share of ready instances the canary holds.
    const c = ctx.ready(current);
    const total = c + ctx.ready(s.stableRevision);
    return total === 0 ? 0 : Math.round((100 * c) / total);
  }
  if (s.abort) {
    if (!canary.dynamicStableScale) return 0;
    // A shrunken stable takes traffic back only as fast as its instances become ready.
    const max = maxTrafficWeight(canary);
    const stableCan = max - Math.floor((max * ctx.ready(s.stableRevision)) / Math.max(1, ctx.replicas));
    return Math.max(0, Math.min(stableCan, s.weights.canary));
  }
  if (s.progress.deadlineExceeded) return 0;
  if (s.manualWeight !== undefined) {
    const enough = ctx.ready(current) >= trafficWeightToReplicas(ctx.replicas, s.manualWeight, maxTrafficWeight(canary));
    return enough ? s.manualWeight : Math.min(s.weights.canary, s.manualWeight);
  }
  const target = currentSetWeight(canary, s);
  if (atDesired) return target;
  // Not ready for the step's weight yet: keep what is in force (Argo keeps the previous setWeight,
  // which can put traffic on unready instances after a skipped step, or drop a hand-set weight).
  return Math.min(target, s.weights.canary);
}

function setTraffic(ctx: Context, canary: CanaryStrategy, weight: number): void {
  const { status: s } = ctx;
  // On the router's scale, as the steps give it (Argo's status.canary.weights are too).
  s.weights = { canary: weight, stable: maxTrafficWeight(canary) - weight };
  ctx.traffic = {
    type: 'setTraffic', stableRevision: s.stableRevision ?? '', canaryRevision: s.canaryRevision, canaryWeight: weight,
    headerRoutes: structuredClone(s.headerRoutes), mirrorRoutes: structuredClone(s.mirrorRoutes),
  };
}

function promote(ctx: Context, canary: CanaryStrategy): void {
  const { status: s } = ctx;
  const previous = s.stableRevision ?? '';
  const next = s.canaryRevision ?? '';
  ctx.stopRuns(['background']);
  s.stableRevision = next;
  s.currentStepIndex = (canary.steps ?? []).length;
  s.promoteFull = false;
  s.pauseConditions = [];
  s.controllerPause = false;
  s.manualWeight = undefined;
  s.headerRoutes = [];
  s.mirrorRoutes = [];
  ctx.event('info', 'RolloutCompleted', `Revision ${next} is now stable (was ${previous})`);
  owePostPromotionHook(ctx, previous, next);
  const routed = !!canary.trafficRouting && (canary.steps ?? []).length > 0;
  if (routed && ctx.asked(previous) > 0) {
    const delaySeconds = canary.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
    if (delaySeconds > 0) {
      ctx.scaleDownLater(previous, ctx.now + delaySeconds * 1000);
      ctx.hold.add(previous);
      ctx.wakeAt(ctx.now + delaySeconds * 1000);
    }
  }
  settle(ctx, canary);
}

/** Nothing in progress: stable at full size, every other revision on its way to zero. */
function settle(ctx: Context, canary: CanaryStrategy): void {
  const { status: s } = ctx;
  followPostPromotionHook(ctx);
  const counts = countsNow(ctx, canary);
  ctx.scale.set(s.stableRevision ?? '', counts.canary);
  for (const o of counts.older) ctx.scale.set(o.name, o.replicas);
  s.headerRoutes = [];
  s.mirrorRoutes = [];
  setTraffic(ctx, canary, 0);
  ctx.traffic = { type: 'setTraffic', stableRevision: s.stableRevision ?? '', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
}

/**
 * The preRollout hook runs: the new revision gets no instance and no traffic yet; stable serves
 * at full size, and whatever else still has instances (a superseded or aborted one) keeps them
 * until the hook has decided.
 */
function waitForHook(ctx: Context, canary: CanaryStrategy): void {
  const { status: s } = ctx;
  const stable = s.stableRevision ?? '';
  ctx.scale.set(stable, ctx.replicas);
  for (const r of ctx.revisions) if (r.name !== stable) ctx.hold.add(r.name);
  setTraffic(ctx, canary, trafficWeight(ctx, canary, false));
}
