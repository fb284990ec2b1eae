/**
 * Going back to an older revision: at once when its instances are still up (inside their
 * scale-down delay), or without steps when it is inside `rollbackWindow`.
 */
import { DEFAULT_SCALE_DOWN_DELAY_SECONDS, type Context } from './context.js';

/**
 * Whether `revision` is still warm: it served users until recently, its scale-down delay has
 * not run out, and every instance it needs is up and ready. Switching back to it needs no new
 * instance and no judgement: it is the version that was serving moments ago.
 */
export function isWarm(ctx: Context, revision: string): boolean {
  const deadline = ctx.status.scaleDownDeadlines.find((d) => d.revision === revision);
  if (!deadline || deadline.atMs <= ctx.now) return false;
  return ctx.asked(revision) >= ctx.replicas && ctx.ready(revision) >= ctx.replicas;
}

/**
 * Whether going to `revision` is a rollback inside `spec.rollbackWindow`: the revision is older
 * than the stable one and among the last `revisions` revisions counting the stable one (as
 * Argo's documentation has it: from 5 with `revisions: 3`, back to 4 or 3). Revision age is the
 * order of `observed.revisions` (oldest first).
 */
export function rollbackWithinWindow(ctx: Context, revision: string): boolean {
  const window = ctx.spec.rollbackWindow?.revisions ?? 0;
  if (window <= 0 || !ctx.status.stableRevision) return false;
  const names = ctx.revisions.map((r) => r.name);
  const target = names.indexOf(revision);
  const stable = names.indexOf(ctx.status.stableRevision);
  if (target < 0 || stable < 0 || target >= stable) return false;
  return stable - target < window;
}

/** The scale-down delay of the strategy in force; 0 when nothing routes traffic (instances are the split). */
export function scaleDownDelayMs(ctx: Context): number {
  const { blueGreen, canary } = ctx.spec.strategy;
  if (blueGreen) return (blueGreen.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS) * 1000;
  if (canary?.trafficRouting && (canary.steps ?? []).length > 0) return (canary.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS) * 1000;
  return 0;
}

/**
 * Makes the warm `revision` stable at once: every user goes back to it on this pass. The
 * revisions that were serving until now are kept up for their own scale-down delay (a second
 * undo is then instant too); a canary that served no one goes.
 */
export function switchBackWarm(ctx: Context, revision: string, reset: () => void): void {
  const { status: s } = ctx;
  const stable = s.stableRevision ?? '';
  const canary = s.canaryRevision;
  const serving = [stable];
  // A blue-green that already switched serves everyone from its new revision.
  if (canary && canary !== stable && s.blueGreen.switchedAtMs !== undefined) serving.push(canary);
  const delayMs = scaleDownDelayMs(ctx);
  ctx.stopRuns();
  reset();
  s.scaleDownDeadlines = s.scaleDownDeadlines.filter((d) => d.revision !== revision);
  if (delayMs > 0) for (const name of serving) if (name !== revision) ctx.scaleDownLater(name, ctx.now + delayMs);
  s.stableRevision = revision;
  s.canaryRevision = revision;
  s.currentStepIndex = ctx.spec.strategy.canary?.steps?.length ?? 0;
  ctx.event('info', 'RollbackToWarmRevision', `Switched all traffic back to ${revision} at once: its instances were still up (scale-down delay), so no steps and no new instances (was ${[...new Set([stable, canary])].filter(Boolean).join(' → ')})`);
}
