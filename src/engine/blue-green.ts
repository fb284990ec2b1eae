import type { BlueGreenStrategy } from '../documents/schema.js';
import { judge } from './canary.js';
import { followPostPromotionHook, hookGate, owePostPromotionHook } from './hooks.js';
import { DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, DEFAULT_SCALE_DOWN_DELAY_SECONDS, runName, type Context } from './context.js';

/**
 * Blue-green: the new revision comes up as the preview (no user traffic), passes pre-promotion
 * analysis and the promotion gate (manual, or automatic after autoPromotionSeconds), grows to
 * full size, takes all traffic at once, passes post-promotion analysis, and only then becomes
 * stable; the old one is scaled down after scaleDownDelaySeconds.
 */
export function reconcileBlueGreen(ctx: Context, bg: BlueGreenStrategy): void {
  const { status: s } = ctx;
  const stable = s.stableRevision ?? '';
  const preview = s.canaryRevision ?? '';
  if (stable === preview) return settle(ctx);
  if (hookGate(ctx, 'preRollout') === 'waiting') return waitForHook(ctx);
  let previewSize = bg.previewReplicaCount ?? ctx.replicas;
  if (!s.abort) {
    const promoting = progress(ctx, bg, previewSize);
    if (promoting) previewSize = ctx.replicas;
  }
  if (s.canaryRevision === s.stableRevision) return settle(ctx);
  ctx.scale.set(stable, ctx.replicas);
  ctx.scale.set(preview, previewSize);
  if (s.abort) {
    s.blueGreen.switchedAtMs = undefined;
    // The preview carries no traffic now; keep it warm for a while (0 = for good).
    const delaySeconds = bg.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS;
    const untilMs = (s.abortedAtMs ?? ctx.now) + delaySeconds * 1000;
    ctx.scale.set(preview, 0);
    // A crash-looping preview would only go on crashing: it stops now, whatever the delay.
    if (!ctx.crashLooped && (delaySeconds === 0 || ctx.now < untilMs)) ctx.hold.add(preview);
    if (!ctx.crashLooped && delaySeconds > 0) ctx.wakeAt(untilMs);
  }
  const active = s.blueGreen.switchedAtMs !== undefined ? preview : stable;
  s.weights = active === preview ? { canary: 100, stable: 0 } : { canary: 0, stable: 100 };
  ctx.traffic = {
    type: 'setTraffic', stableRevision: active, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], previewRevision: preview,
  };
}

/** Moves through the gates; true once the preview is to grow to full size for the switch. */
function progress(ctx: Context, bg: BlueGreenStrategy, previewSize: number): boolean {
  const { status: s } = ctx;
  const preview = s.canaryRevision ?? '';
  if (s.blueGreen.switchedAtMs === undefined) {
    if (!s.promoteFull) {
      // At least the preview size: once promoting, the preview is already growing past it.
      if (ctx.asked(preview) < previewSize || ctx.ready(preview) < previewSize) return false;
      if (bg.prePromotionAnalysis) {
        const run = ctx.startRun(runName(preview, s.attempt, 'prePromotion'), 'prePromotion', bg.prePromotionAnalysis, preview);
        if (!run || judge(ctx, run) !== 'passed') return false;
      }
      if (!passGate(ctx, bg)) return false;
    }
    // The preview grows to full size while the hook runs; the switch waits for it.
    const hook = hookGate(ctx, 'prePromotion');
    if (hook !== 'passed') return hook === 'waiting';
    if (ctx.pausedBy('UserPause') || ctx.spec.paused || s.progress.deadlineExceeded) return true;
    if (!ctx.settledAt(preview, ctx.replicas)) return true;
    s.blueGreen.switchedAtMs = ctx.now;
    s.pauseConditions = [];
    s.controllerPause = false;
    ctx.event('info', 'TrafficSwitched', `All traffic switched to ${preview}; ${s.stableRevision ?? ''} kept up until promotion completes`);
  }
  if (bg.postPromotionAnalysis && !s.promoteFull) {
    const run = ctx.startRun(runName(preview, s.attempt, 'postPromotion'), 'postPromotion', bg.postPromotionAnalysis, preview);
    if (!run || judge(ctx, run) !== 'passed') return true;
  }
  complete(ctx, bg);
  return true;
}

/** The promotion gate: open at once by default, after autoPromotionSeconds, or when a person promotes. */
function passGate(ctx: Context, bg: BlueGreenStrategy): boolean {
  const { status: s } = ctx;
  const auto = bg.autoPromotionEnabled !== false;
  if (auto && bg.autoPromotionSeconds === undefined) return true;
  if (!ctx.pausedBy('BlueGreenPause')) {
    // No condition after the engine paused here means a person promoted.
    if (s.controllerPause) return true;
    ctx.pause('BlueGreenPause');
    s.controllerPause = true;
  }
  const cond = ctx.pausedBy('BlueGreenPause');
  if (!cond) return true;
  if (!auto || bg.autoPromotionSeconds === undefined) return false;
  const atMs = cond.startedAtMs + bg.autoPromotionSeconds * 1000;
  if (ctx.now < atMs) {
    ctx.wakeAt(atMs);
    return false;
  }
  ctx.unpause('BlueGreenPause');
  return true;
}

function complete(ctx: Context, bg: BlueGreenStrategy): void {
  const { status: s } = ctx;
  const previous = s.stableRevision ?? '';
  const next = s.canaryRevision ?? '';
  ctx.stopRuns();
  s.stableRevision = next;
  s.blueGreen = {};
  s.promoteFull = false;
  s.pauseConditions = [];
  s.controllerPause = false;
  ctx.event('info', 'RolloutCompleted', `Revision ${next} is now stable (was ${previous})`);
  owePostPromotionHook(ctx, previous, next);
  const delaySeconds = bg.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
  if (delaySeconds > 0 && ctx.asked(previous) > 0) {
    ctx.scaleDownLater(previous, ctx.now + delaySeconds * 1000);
    ctx.hold.add(previous);
    ctx.wakeAt(ctx.now + delaySeconds * 1000);
  }
}

/** Nothing in progress: the active revision at full size, the others on their way to zero. */
function settle(ctx: Context): void {
  const { status: s } = ctx;
  followPostPromotionHook(ctx);
  const active = s.stableRevision ?? '';
  ctx.scale.set(active, ctx.replicas);
  s.weights = { canary: 0, stable: 100 };
  ctx.traffic = { type: 'setTraffic', stableRevision: active, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
}

/** The preRollout hook runs: no preview instance yet, users on the active revision. */
function waitForHook(ctx: Context): void {
  const { status: s } = ctx;
  const stable = s.stableRevision ?? '';
  ctx.scale.set(stable, ctx.replicas);
  for (const r of ctx.revisions) if (r.name !== stable) ctx.hold.add(r.name);
  s.weights = { canary: 0, stable: 100 };
  ctx.traffic = { type: 'setTraffic', stableRevision: stable, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
}
