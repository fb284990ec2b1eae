import type { RolloutSpec } from '../documents/schema.js';
import { Context, initialStatus } from './context.js';
import { describeStep, describeWeight } from './describe.js';
import { applyRouteOperation } from './route-operations.js';
import { OperationError, type EngineResult, type Operation, type RolloutStatus, type RouterAbilities, type TrafficInForce } from './types.js';

/** Input of {@link applyOperation}. */
export interface ApplyOperationInput {
  spec: RolloutSpec;
  status: RolloutStatus;
  operation: Operation;
  /** Epoch milliseconds. */
  now: number;
  /** The service's name, when known: refusals then name the command to run instead. */
  service?: string | undefined;
  /** What the service's router can do, for the route operations; absent: not checked here (the router refuses when applying). */
  router?: RouterAbilities | undefined;
}

/**
 * An operation on a rollout, a person's (or a pipeline's) or the controller's own: returns the new status and what must
 * happen at once (abort moves traffic to stable in the same breath), or throws an
 * `OperationError` naming why the operation makes no sense now. Undo is not here: the caller
 * sets `desiredRevision` to an older revision and reconciles.
 */
export function applyOperation(input: ApplyOperationInput): EngineResult {
  const s = structuredClone(input.status);
  const ctx = new Context(input.spec, s, input.now, [], [], undefined);
  const inProgress = s.stableRevision !== undefined && s.canaryRevision !== s.stableRevision;
  const canary = input.spec.strategy.canary;
  const steps = canary?.steps ?? [];
  const routed = !!input.spec.strategy.blueGreen || (!!canary?.trafficRouting && steps.length > 0);
  const op = input.operation;
  const notInProgress = (what: string) =>
    new OperationError(op.type === 'promote' || op.type === 'promoteFull' ? 'NothingToPromote' : 'NotInProgress', `nothing to ${what}: no rollout in progress (revision ${s.stableRevision ?? 'none'} is stable)`);

  switch (op.type) {
    case 'promote': {
      if (!inProgress) throw notInProgress('promote');
      if (s.abort) throw new OperationError('Aborted', 'the rollout is aborted: retry it, or promote --full to skip every step');
      if (input.spec.strategy.blueGreen) promoteBlueGreen(ctx);
      else promoteCanary(ctx, steps);
      break;
    }
    case 'promoteFull': {
      if (!inProgress) throw notInProgress('promote');
      ctx.stopRuns(['step', 'prePromotion', 'postPromotion']);
      s.promoteFull = true;
      s.abort = false;
      s.abortedAtMs = undefined;
      s.pauseConditions = [];
      s.manualWeight = undefined;
      s.progress.deadlineExceeded = false;
      s.progress.lastProgressMs = ctx.now;
      s.reason = undefined;
      s.phase = 'Progressing';
      ctx.event('info', 'RolloutPromotedFull', `Promoted ${s.canaryRevision ?? ''} fully: remaining steps, pauses and analyses skipped`);
      break;
    }
    case 'pause': {
      if (!inProgress) throw notInProgress('pause');
      if (s.abort) throw new OperationError('Aborted', 'the rollout is aborted: nothing moves until retry');
      if (ctx.pausedBy('UserPause')) throw new OperationError('AlreadyPaused', 'the rollout is already paused');
      ctx.pause('UserPause');
      s.phase = 'Paused';
      s.reason = 'UserPause';
      break;
    }
    case 'resume': {
      if (!ctx.pausedBy('UserPause')) throw new OperationError('NotPaused', 'the rollout was not paused by a person (use promote to pass a pause step)');
      ctx.unpause('UserPause');
      s.progress.lastProgressMs = ctx.now;
      if (s.pauseConditions.length === 0) s.phase = 'Progressing';
      ctx.event('info', 'RolloutResumed', 'Rollout resumed');
      break;
    }
    case 'abort':
    case 'guardAbort': {
      if (!inProgress) {
        // After promotion there is nothing to abort, but the person asking wants the old version back.
        throw new OperationError('NotInProgress', `nothing to abort: no rollout is in progress (revision ${s.stableRevision ?? 'none'} is stable); to go back to the previous revision, run \`graylane undo ${input.service ?? '<service>'}\``);
      }
      if (s.abort) throw new OperationError('AlreadyAborted', 'the rollout is already aborted');
      if (op.type === 'guardAbort') {
        // The guard's verdict is the reason people read in status and in the events, first.
        ctx.event('warning', 'GuardFailed', `canary ${s.canaryRevision ?? ''} aborted by the guard: ${op.reason}`);
        ctx.abort('GuardFailed', `aborted by the guard: ${op.reason}`);
      } else {
        ctx.abort('AbortedByUser', 'aborted by request');
      }
      s.phase = 'Degraded';
      s.headerRoutes = [];
      s.mirrorRoutes = [];
      if (routed) {
        // Everything back on stable now, not at the next reconcile.
        s.blueGreen.switchedAtMs = undefined;
        s.weights = { canary: 0, stable: 100 };
        ctx.traffic = {
          type: 'setTraffic', stableRevision: s.stableRevision ?? '', canaryRevision: s.canaryRevision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [],
          ...(input.spec.strategy.blueGreen ? { canaryRevision: undefined, previewRevision: s.canaryRevision } : {}),
        };
      }
      break;
    }
    case 'retry': {
      if (!s.abort) throw new OperationError('NotAborted', 'only an aborted rollout can be retried');
      s.abort = false;
      s.abortedAtMs = undefined;
      s.currentStepIndex = 0;
      s.attempt += 1;
      s.pauseConditions = [];
      s.controllerPause = false;
      s.analysisRuns = [];
      s.promoteFull = false;
      delete s.rollbackWithinWindow;
      s.progress = { ...s.progress, deadlineExceeded: false, lastProgressMs: ctx.now };
      s.reason = undefined;
      s.message = undefined;
      s.phase = 'Progressing';
      s.scaleDownDeadlines = s.scaleDownDeadlines.filter((d) => d.revision !== s.canaryRevision);
      ctx.event('info', 'RolloutRetried', `Retrying ${s.canaryRevision ?? ''} from step 0 (attempt ${s.attempt + 1})`);
      break;
    }
    case 'endScaleDownDelay': {
      // Only brings a deadline forward: an old revision is never kept longer than its delay.
      s.scaleDownDeadlines = s.scaleDownDeadlines.map((d) => (d.revision === op.revision ? { ...d, atMs: Math.min(d.atMs, op.atMs ?? ctx.now) } : d));
      break;
    }
    case 'revertPromoted': {
      revertPromoted(ctx, op);
      break;
    }
    case 'setWeight': {
      const { weight } = op;
      // On the scale the steps' setWeight is on: a hand-set weight and a step's mean the same.
      const max = canary?.trafficRouting?.maxTrafficWeight ?? 100;
      if (!Number.isInteger(weight) || weight < 0 || weight > max) {
        throw new OperationError('InvalidWeight', `weight: must be an integer from 0 to ${max}${max === 100 ? '' : ' (trafficRouting.maxTrafficWeight)'}, got ${String(weight)}`);
      }
      if (!canary?.trafficRouting || steps.length === 0) throw new OperationError('NeedsTrafficRouting', 'a manual weight needs a canary with steps and trafficRouting (without a router, instances are the split)');
      if (!inProgress) throw notInProgress('weigh');
      if (s.abort) throw new OperationError('Aborted', 'the rollout is aborted: retry it first');
      s.manualWeight = weight;
      ctx.event('info', 'ManualWeight', `Canary weight set to ${describeWeight(weight, max)} by hand; holds until the next step or promote`);
      break;
    }
    case 'setHeaderRoute':
    case 'setMirrorRoute': {
      if (!canary?.trafficRouting || steps.length === 0) {
        const why = input.router ? `${input.router.name} routes whole revisions, not requests one by one` : 'without a router there is nothing to route requests by';
        throw new OperationError('NeedsTrafficRouting', `${op.type === 'setHeaderRoute' ? 'a header' : 'a mirror'} route needs a canary with steps and trafficRouting (${why})`);
      }
      if (!inProgress) throw notInProgress(op.type === 'setHeaderRoute' ? 'route by header' : 'mirror');
      if (s.abort) throw new OperationError('Aborted', 'the rollout is aborted: retry it first');
      applyRouteOperation(ctx, op, input.router);
      break;
    }
  }
  const actions = [...ctx.actions, ...(ctx.traffic ? [ctx.traffic] : [])];
  return { status: s, actions };
}

/** Input of {@link staticServiceStatus}. */
export interface StaticServiceStatusInput {
  /** The revision (the set of targets) in force. */
  revision: string;
  /** Epoch milliseconds. */
  now: number;
}

/**
 * The status and traffic of a service that routes to targets graylane does not run: it has no
 * rollout, so it is always Healthy on its one revision, with all traffic on it.
 */
export function staticServiceStatus(input: StaticServiceStatusInput): { status: RolloutStatus; traffic: TrafficInForce } {
  return {
    status: { ...initialStatus(input.now), phase: 'Healthy', stableRevision: input.revision, canaryRevision: input.revision },
    traffic: { stableRevision: input.revision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] },
  };
}

/**
 * Back from a finished rollout to the revision it replaced, which still runs (its scale-down
 * delay): that one is stable again on this pass and the promoted one stands aborted as the
 * canary, with no traffic, kept for the abort's delay. Only a routed canary can do this at once;
 * without a router, or once the old instances are gone, it takes a rollout (undo).
 */
function revertPromoted(ctx: Context, op: Extract<Operation, { type: 'revertPromoted' }>): void {
  const { status: s, spec } = ctx;
  if (s.stableRevision !== op.promoted || s.canaryRevision !== op.promoted) {
    throw new OperationError('NotPromoted', `revision ${op.promoted} is not the finished rollout (stable ${s.stableRevision ?? 'none'}, canary ${s.canaryRevision ?? 'none'})`);
  }
  const canary = spec.strategy.canary;
  if (!canary?.trafficRouting || (canary.steps ?? []).length === 0) {
    throw new OperationError('NeedsTrafficRouting', 'going back at once needs a canary with steps and trafficRouting (without a router, instances are the split: undo rolls back)');
  }
  const kept = s.scaleDownDeadlines.find((d) => d.revision === op.previous);
  if (!kept || kept.atMs <= ctx.now) {
    throw new OperationError('NotWarm', `revision ${op.previous} is no longer kept up (its scale-down delay is over): undo rolls back to it with new instances`);
  }
  ctx.stopRuns();
  s.scaleDownDeadlines = s.scaleDownDeadlines.filter((d) => d.revision !== op.previous);
  s.stableRevision = op.previous;
  s.postPromotionHook = undefined;
  s.hookFailure = undefined;
  s.headerRoutes = [];
  s.mirrorRoutes = [];
  ctx.event('warning', 'RevertedToPrevious', `Switched all traffic back to ${op.previous} at once (its instances were still up); ${op.promoted} stays as an aborted canary`);
  ctx.abort('ReleaseAborted', op.reason);
  s.phase = 'Degraded';
  const max = canary.trafficRouting.maxTrafficWeight ?? 100;
  s.weights = { canary: 0, stable: max };
  ctx.traffic = { type: 'setTraffic', stableRevision: op.previous, canaryRevision: op.promoted, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
}

function acknowledgeInconclusive(ctx: Context): boolean {
  let any = false;
  for (const r of ctx.status.analysisRuns) {
    if (r.phase === 'Inconclusive' && !r.acknowledged) {
      r.acknowledged = true;
      any = true;
    }
  }
  ctx.unpause('InconclusiveAnalysis');
  return any;
}

function promoteCanary(ctx: Context, steps: readonly import('../documents/schema.js').CanaryStep[]): void {
  const { status: s } = ctx;
  if (steps.length === 0) throw new OperationError('NothingToPromote', 'a rolling update has no steps to promote past; use promote --full');
  const index = s.currentStepIndex;
  const step = steps[index];
  if (!step) throw new OperationError('NothingToPromote', 'every step is done; the canary is still coming up to full size');
  acknowledgeInconclusive(ctx);
  const running = s.analysisRuns.filter((r) => r.kind === 'step' && r.stepIndex === index && (r.phase === 'Running' || r.phase === 'Pending'));
  for (const r of running) {
    r.phase = 'Inconclusive';
    r.message = 'skipped by promote';
    ctx.actions.push({ type: 'stopAnalysis', name: r.name });
  }
  s.pauseConditions = [];
  s.controllerPause = false;
  s.manualWeight = undefined;
  s.currentStepIndex = index + 1;
  s.progress.lastProgressMs = ctx.now;
  s.phase = 'Progressing';
  ctx.event('info', 'RolloutPromoted', `Promoted past step ${index + 1}/${steps.length}: ${describeStep(step, ctx.spec.strategy.canary?.trafficRouting?.maxTrafficWeight)}`);
}

function promoteBlueGreen(ctx: Context): void {
  const { status: s } = ctx;
  const acknowledged = acknowledgeInconclusive(ctx);
  if (ctx.pausedBy('BlueGreenPause')) {
    // The engine paused here (controllerPause): without the condition the gate counts as passed.
    ctx.unpause('BlueGreenPause');
  } else if (!acknowledged) {
    throw new OperationError('NothingToPromote', 'not waiting for promotion yet (preview coming up or analysis running); promote --full skips the wait');
  }
  s.progress.lastProgressMs = ctx.now;
  if (s.pauseConditions.length === 0) s.phase = 'Progressing';
  ctx.event('info', 'RolloutPromoted', `Promoted preview ${s.canaryRevision ?? ''}`);
}
