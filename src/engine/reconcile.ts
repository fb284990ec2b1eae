import { parseDurationMs } from '../lib/duration.js';
import { reconcileBlueGreen } from './blue-green.js';
import { reconcileCanary, waitingForEvidence } from './canary.js';
import { Context, CRASH_LOOP_REASON, CRASH_LOOP_RESTARTS, DEFAULT_PROGRESS_DEADLINE_SECONDS, initialStatus } from './context.js';
import { describeStep, describeWeight } from './describe.js';
import { POST_PROMOTION_HOOK_FAILED_REASON } from './hooks.js';
import { isWarm, rollbackWithinWindow, switchBackWarm } from './rollback.js';
import { EngineInputError, type Action, type EngineResult, type ReconcileInput, type RolloutStatus } from './types.js';

/**
 * One pure reconcile of one rollout: from the spec, the previous status, what exists now and the
 * time, decides the next status and the actions that move the world toward it. Calling it again
 * with its own output status and an unchanged world gives the same status and only re-asserts
 * scale and traffic. `requeueAfterMs` says when time alone will change the answer.
 */
export function reconcile(input: ReconcileInput): EngineResult {
  validateInput(input);
  const s: RolloutStatus = structuredClone(input.status ?? initialStatus(input.now));
  const ctx = new Context(input.spec, s, input.now, input.observed.revisions, input.observed.analysisRuns ?? [], input.templates);
  ctx.canaryRequests = input.observed.canaryRequests;
  ctx.trafficVerified = input.observed.trafficVerified;
  const desired = input.desiredRevision;
  const fast = input.fastRollback !== false;

  const fingerprintBefore = fingerprint(ctx);
  const movedBefore = fingerprintBefore !== s.progress.fingerprint;
  // The deadline clock stood still last pass: it restarts now, so nothing is overdue yet.
  const wasStopped = s.progress.clockStopped === true;
  if (movedBefore) resumeProgress(ctx);
  if (!s.stableRevision) firstRevision(ctx, desired);
  else if (desired !== s.canaryRevision) {
    if (desired === s.stableRevision) rollbackToStable(ctx);
    else if (fast && isWarm(ctx, desired)) switchBackWarm(ctx, desired, () => resetForRevision(s, ctx.now));
    else startRevision(ctx, desired, fast);
  }
  checkProgressDeadline(ctx, movedBefore || wasStopped);
  checkCrashLoop(ctx);
  expireScaleDowns(ctx);

  if (input.spec.strategy.blueGreen) reconcileBlueGreen(ctx, input.spec.strategy.blueGreen);
  else if (input.spec.strategy.canary) reconcileCanary(ctx, input.spec.strategy.canary);

  const fingerprintAfter = fingerprint(ctx);
  if (movedBefore || fingerprintAfter !== fingerprintBefore) resumeProgress(ctx);
  s.progress.fingerprint = fingerprintAfter;
  setPhase(ctx);
  // A stopped clock is a flag, not a fresh stamp on every pass: an idle rollout's status stays
  // byte-identical, so the controller has nothing to write.
  if (timerStopped(ctx)) s.progress.clockStopped = true;
  else {
    if (wasStopped) s.progress.lastProgressMs = ctx.now;
    delete s.progress.clockStopped;
    if (!s.progress.deadlineExceeded) ctx.wakeAt(s.progress.lastProgressMs + progressDeadlineMs(ctx) + 1);
  }

  const actions = [...ctx.actions, ...worldActions(ctx)];
  const wake = ctx.wakeAtMs.length ? Math.min(...ctx.wakeAtMs) - ctx.now : undefined;
  return { status: s, actions, ...(wake === undefined ? {} : { requeueAfterMs: wake }) };
}

function resumeProgress(ctx: Context): void {
  const { status: s } = ctx;
  s.progress.lastProgressMs = ctx.now;
  if (s.progress.deadlineExceeded && !s.abort) {
    s.progress.deadlineExceeded = false;
    ctx.event('info', 'RolloutProgressing', 'Progress resumed after the progress deadline');
  }
}

function validateInput(input: ReconcileInput): void {
  if (typeof input.desiredRevision !== 'string' || input.desiredRevision === '') throw new EngineInputError('desiredRevision: must be a non-empty revision name');
  if (!Number.isFinite(input.now)) throw new EngineInputError(`now: must be epoch milliseconds, got ${String(input.now)}`);
  const { strategy } = input.spec;
  if (!strategy || (strategy.canary ? 1 : 0) + (strategy.blueGreen ? 1 : 0) !== 1) throw new EngineInputError('spec.strategy: exactly one of canary, blueGreen is required');
  for (const [i, step] of (strategy.canary?.steps ?? []).entries()) {
    if ('pause' in step && step.pause.duration !== undefined) {
      try { parseDurationMs(step.pause.duration); } catch (e) { throw new EngineInputError(`spec.strategy.canary.steps[${i}].pause.duration: ${(e as Error).message}`); }
    }
  }
}

function resetForRevision(s: RolloutStatus, now: number): void {
  s.currentStepIndex = 0;
  s.abort = false;
  s.abortedAtMs = undefined;
  s.promoteFull = false;
  delete s.rollbackWithinWindow;
  s.pauseConditions = [];
  s.controllerPause = false;
  s.manualWeight = undefined;
  // A superseded canary's share goes back to stable at once; the new one earns it step by step.
  s.weights = { canary: 0, stable: 100 };
  s.headerRoutes = [];
  s.mirrorRoutes = [];
  s.blueGreen = {};
  s.analysisRuns = [];
  s.evidence = undefined;
  s.evidenceWarning = undefined;
  s.postPromotionHook = undefined;
  s.hookFailure = undefined;
  s.reason = undefined;
  s.message = undefined;
  s.progress = { lastProgressMs: now, fingerprint: s.progress.fingerprint, deadlineExceeded: false };
}

function firstRevision(ctx: Context, desired: string): void {
  ctx.status.stableRevision = desired;
  ctx.status.canaryRevision = desired;
  ctx.event('info', 'InitialDeploy', `First revision ${desired} deployed at full scale and made stable`);
}

function startRevision(ctx: Context, desired: string, fastRollback: boolean): void {
  const { status: s } = ctx;
  // Judged before a superseded blue-green's new revision may become stable below: the window
  // counts back from what served users when the rollback was asked for.
  const windowed = fastRollback && rollbackWithinWindow(ctx, desired);
  const previous = s.canaryRevision;
  if (previous && previous !== s.stableRevision) {
    // A blue-green that already switched serves everyone from its new revision: keep that one.
    if (s.blueGreen.switchedAtMs !== undefined) {
      ctx.scaleDownLater(s.stableRevision ?? previous, ctx.now);
      s.stableRevision = previous;
    }
    ctx.stopRuns();
    ctx.event('info', 'RolloutSuperseded', `Revision ${previous} superseded by ${desired}; restarting at step 0 with stable ${s.stableRevision ?? ''} untouched`);
  } else {
    ctx.event('info', 'RolloutStarted', `Rolling out revision ${desired} (stable ${s.stableRevision ?? ''})`);
  }
  resetForRevision(s, ctx.now);
  s.canaryRevision = desired;
  s.scaleDownDeadlines = s.scaleDownDeadlines.filter((d) => d.revision !== desired && d.revision !== s.stableRevision);
  if (windowed) {
    // As promote --full: the old revision comes up at full size, then takes all traffic at once.
    s.promoteFull = true;
    s.rollbackWithinWindow = true;
    ctx.event('info', 'RollbackWithinWindow', `Rolling back to ${desired}, inside rollbackWindow (${ctx.spec.rollbackWindow?.revisions ?? 0} revisions): steps, pauses and analyses skipped; traffic switches once it is ready`);
  }
}

function rollbackToStable(ctx: Context): void {
  const { status: s } = ctx;
  ctx.stopRuns();
  ctx.event('info', 'RollbackToStable', `Rolled back to stable revision ${s.stableRevision ?? ''} at once, no steps (was rolling out ${s.canaryRevision ?? ''})`);
  resetForRevision(s, ctx.now);
  s.canaryRevision = s.stableRevision;
  s.currentStepIndex = ctx.spec.strategy.canary?.steps?.length ?? 0;
}

function expireScaleDowns(ctx: Context): void {
  const { status: s } = ctx;
  s.scaleDownDeadlines = s.scaleDownDeadlines.filter((d) => d.atMs > ctx.now && d.revision !== s.stableRevision && d.revision !== s.canaryRevision);
  for (const d of s.scaleDownDeadlines) {
    ctx.hold.add(d.revision);
    ctx.wakeAt(d.atMs);
  }
}

export function progressDeadlineMs(ctx: Context): number {
  return (ctx.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS) * 1000;
}

/** What counts as progress: the step, the attempt, and every revision's size and readiness. */
function fingerprint(ctx: Context): string {
  const { status: s } = ctx;
  return JSON.stringify([s.canaryRevision, s.stableRevision, s.currentStepIndex, s.attempt, s.blueGreen.switchedAtMs ?? null, ctx.revisions.map((r) => [r.name, r.replicas, r.readyReplicas])]);
}

/** The deadline clock stands still while a human or an analysis is what the rollout waits on. */
function timerStopped(ctx: Context): boolean {
  const { status: s } = ctx;
  if (s.abort || s.pauseConditions.length > 0 || ctx.spec.paused) return true;
  if (s.phase === 'Healthy' || s.phase === 'Completed') return true;
  // Degraded by a failed postPromotion hook: nothing is in progress to time.
  if (s.hookFailure !== undefined && s.canaryRevision === s.stableRevision) return true;
  return s.analysisRuns.some((r) => r.kind !== 'background' && r.phase === 'Running');
}

function checkProgressDeadline(ctx: Context, moved: boolean): void {
  const { status: s } = ctx;
  if (moved || s.abort || s.progress.deadlineExceeded || s.phase !== 'Progressing') return;
  if (ctx.now - s.progress.lastProgressMs < progressDeadlineMs(ctx)) return;
  s.progress.deadlineExceeded = true;
  const seconds = progressDeadlineMs(ctx) / 1000;
  const waiting = waitingForEvidence(ctx);
  const message = `no progress for ${seconds}s (progressDeadlineSeconds)${waiting ? ` ${waiting}` : ''}; traffic is on stable`;
  ctx.event('warning', 'ProgressDeadlineExceeded', `Rollout has not progressed in ${seconds}s`);
  if (ctx.spec.progressDeadlineAbort && s.stableRevision !== s.canaryRevision) ctx.abort('ProgressDeadlineExceeded', message);
  else {
    s.reason = 'ProgressDeadlineExceeded';
    s.message = message;
  }
}

/**
 * A new revision whose instance keeps crashing before it is ever ready will not get better by
 * waiting out the progress deadline: abort now, with the crash as the reason. The strategies then
 * stop its instances instead of keeping them warm (see `Context.crashLooped`).
 */
function checkCrashLoop(ctx: Context): void {
  const { status: s } = ctx;
  if (s.abort || s.canaryRevision === undefined || s.canaryRevision === s.stableRevision) return;
  const canary = ctx.observed(s.canaryRevision);
  const restarts = canary?.restartsSinceReady ?? 0;
  if (restarts < CRASH_LOOP_RESTARTS) return;
  const cause = canary?.lastError ? `; last: ${canary.lastError}` : '';
  const message = `revision ${s.canaryRevision} crash-loops: an instance restarted ${restarts} times without becoming ready${cause}`;
  ctx.event('warning', CRASH_LOOP_REASON, `${message} (limit ${CRASH_LOOP_RESTARTS}); its instances are stopped`);
  ctx.abort(CRASH_LOOP_REASON, message);
}

function setPhase(ctx: Context): void {
  const { status: s } = ctx;
  const inProgress = s.canaryRevision !== s.stableRevision;
  if (s.abort) {
    s.phase = 'Degraded';
    return;
  }
  if (s.progress.deadlineExceeded) {
    s.phase = 'Degraded';
    s.reason = 'ProgressDeadlineExceeded';
    return;
  }
  if (s.hookFailure !== undefined && !inProgress) {
    // Promoted, but the postPromotion hook failed: the new revision serves, someone has to look.
    s.phase = 'Degraded';
    s.reason = POST_PROMOTION_HOOK_FAILED_REASON;
    s.message = s.hookFailure;
    return;
  }
  s.reason = undefined;
  if (inProgress && (s.pauseConditions.length > 0 || ctx.spec.paused)) {
    s.phase = 'Paused';
    s.reason = s.pauseConditions[0]?.reason ?? 'SpecPaused';
    s.message = withWarning(ctx, `paused: ${s.pauseConditions.map((p) => p.reason).join(', ') || 'spec.paused'}`);
    return;
  }
  if (inProgress) {
    s.phase = 'Progressing';
    const waiting = waitingForEvidence(ctx);
    s.message = withWarning(ctx, `${progressMessage(ctx)}${waiting ? `, ${waiting}` : ''}`);
    return;
  }
  const stable = s.stableRevision ?? '';
  if (ctx.ready(stable) < ctx.replicas || ctx.asked(stable) !== ctx.replicas) {
    s.phase = 'Progressing';
    s.message = `revision ${stable}: ${ctx.ready(stable)}/${ctx.replicas} ready`;
    return;
  }
  const leftovers = ctx.revisions.filter((r) => r.name !== stable && (r.replicas > 0 || r.readyReplicas > 0));
  s.phase = leftovers.length > 0 || s.scaleDownDeadlines.length > 0 ? 'Completed' : 'Healthy';
  const hook = s.postPromotionHook !== undefined ? '; postPromotion hook running' : '';
  s.message = withWarning(ctx, (leftovers.length > 0 ? `revision ${stable} is stable; scaling down ${leftovers.map((r) => r.name).join(', ')}` : `revision ${stable} is stable at ${ctx.replicas}/${ctx.replicas}`) + hook);
}

/** A step promoted without evidence stays said until the next rollout starts. */
function withWarning(ctx: Context, message: string): string {
  return ctx.status.evidenceWarning ? `${message}; ${ctx.status.evidenceWarning}` : message;
}

function progressMessage(ctx: Context): string {
  const { status: s, spec } = ctx;
  const canary = s.canaryRevision ?? '';
  const steps = spec.strategy.canary?.steps ?? [];
  const ready = `${ctx.ready(canary)}/${ctx.asked(canary)} ready`;
  if (spec.strategy.blueGreen) return `blue-green: preview ${canary} ${ready}${s.blueGreen.switchedAtMs !== undefined ? ', traffic switched' : ''}`;
  if (steps.length === 0) return `rolling update to ${canary}: ${ready}`;
  const step = steps[s.currentStepIndex];
  const scale = spec.strategy.canary?.trafficRouting?.maxTrafficWeight ?? 100;
  return step ? `step ${s.currentStepIndex + 1}/${steps.length} (${describeStep(step, scale)}): ${canary} ${ready}, weight ${describeWeight(s.weights.canary, scale)}` : `all steps done: waiting for ${canary} at full scale (${ready})`;
}

/** Scale-ups first, then traffic, then scale-downs: instances never lose traffic they still carry. */
function worldActions(ctx: Context): Action[] {
  const ups: Action[] = [];
  const downs: Action[] = [];
  const names = new Set([...ctx.revisions.map((r) => r.name), ...ctx.scale.keys()]);
  for (const name of names) {
    const have = ctx.asked(name);
    const want = ctx.hold.has(name) ? have : ctx.scale.get(name) ?? 0;
    if (want === have && (want > 0 || ctx.revisions.some((r) => r.name === name))) continue;
    if (want === 0 && have === 0) continue;
    (want > have ? ups : downs).push({ type: 'scale', revision: name, replicas: want });
  }
  const traffic = ctx.traffic ? [ctx.traffic] : [];
  return [...ups, ...traffic, ...downs, ...retirements(ctx)];
}

function retirements(ctx: Context): Action[] {
  const { status: s } = ctx;
  const limit = ctx.spec.revisionHistoryLimit ?? 10;
  const idle = ctx.revisions.filter((r) => r.name !== s.stableRevision && r.name !== s.canaryRevision && !ctx.hold.has(r.name) && r.replicas === 0 && r.readyReplicas === 0 && (ctx.scale.get(r.name) ?? 0) === 0);
  return idle.slice(0, Math.max(0, idle.length - limit)).map((r) => ({ type: 'retireRevision', revision: r.name }));
}
