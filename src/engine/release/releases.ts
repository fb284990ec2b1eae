/**
 * Releases: several services rolled out as one. Each member keeps its own engine (its replica
 * math and readiness are its own), but the release owns the timeline: member steps are the
 * release's steps with every pause and analysis turned into a gate (`pause: {}`) that only the
 * release opens, for all members at once. The release's weight for new clients is the smallest
 * member weight, so no client meets a new frontend before every backend's canary is ready.
 */
import { parseDurationMs } from '../../lib/duration.js';
import type { RolloutStatus } from '../index.js';
import { DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS } from '../context.js';
import type { App, CanaryStep, Release, RolloutSpec } from '../../documents/schema.js';

/** Where a release stands. `promoted`: done, old revisions kept for pinned clients (skew window). */
export type ReleasePhase = 'idle' | 'progressing' | 'promoted' | 'aborted';

/** A release's own state, persisted beside the members' statuses. */
export interface ReleaseState {
  /** Release name. */
  name: string;
  /** Changes with every new attempt; tokens of another generation are ignored by the router. */
  generation: string;
  phase: ReleasePhase;
  /** The release step all changed members are at (gates open for all at once). */
  stepIndex: number;
  /** When every changed member reached the current gate (epoch ms). */
  gateOpenedAtMs?: number;
  /** Analysis run in force at the current gate, if any. */
  analysisRun?: string;
  /** A person promoted past an indefinite pause or an inconclusive analysis at this gate. */
  gatePromoted?: boolean;
  /** A person paused the release: no gate opens until resume or promote. */
  paused?: boolean;
  /** Members being rolled out in this attempt, with their old (stable) and new revisions. */
  members: { service: string; from: string; to: string }[];
  /** Until when stable-pinned clients keep the old revisions after promotion (epoch ms). */
  skewUntilMs?: number;
  /**
   * After an abort: until when requests of pages already loaded from the canary keep it (epoch
   * ms), so that a page half-loaded when the abort came does not fetch stable's assets or APIs.
   */
  abortGraceUntilMs?: number;
  /** HMAC key for version tokens. */
  secret: string;
  /** Why it is as it is, for people. */
  message: string;
}

/** Defaults of a release's pinning. */
export const DEFAULT_PINNING = { cookie: 'graylane-release', header: 'x-graylane-release', skewWindowMs: 600_000, abortGraceMs: 5_000 } as const;

/** The release a service belongs to, if any. */
export function releaseOf(app: App | undefined, service: string): Release | undefined {
  return app?.spec.releases?.find((r) => r.services.includes(service));
}

/** Skew window of a release in ms. */
export function skewWindowMs(release: Release): number {
  return release.pinning?.skewWindow === undefined ? DEFAULT_PINNING.skewWindowMs : parseDurationMs(release.pinning.skewWindow);
}

/** Abort grace of a release in ms: how long pages loading from the canary when it aborts keep it. */
export function abortGraceMs(release: Release): number {
  return release.pinning?.abortGrace === undefined ? DEFAULT_PINNING.abortGraceMs : parseDurationMs(release.pinning.abortGrace);
}

/**
 * A member's RolloutSpec: the release's strategy with every pause and analysis step turned into
 * a gate the release opens, stable kept up through the skew window for pinned clients.
 */
export function memberSpec(release: Release, own: RolloutSpec): RolloutSpec {
  const canary = structuredClone(release.strategy.canary ?? {});
  canary.steps = (canary.steps ?? []).map((s): CanaryStep => ('pause' in s || 'analysis' in s ? { pause: {} } : s));
  canary.trafficRouting ??= { builtin: {} };
  // Old revisions stay until the release retires them (skew window, or no pinned traffic left).
  canary.scaleDownDelaySeconds = Math.ceil(skewWindowMs(release) / 1000) + 60;
  // An aborted canary stays up through the abort grace, for the pages still loading from it (0 keeps it for good).
  const graceSeconds = Math.ceil(abortGraceMs(release) / 1000);
  if (canary.abortScaleDownDelaySeconds !== 0 && (canary.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS) < graceSeconds) canary.abortScaleDownDelaySeconds = graceSeconds;
  if (canary.steps.length === 0) canary.steps = [{ setWeight: 100 }];
  return { ...own, strategy: { canary } };
}

/** What the release should do at its current gate. */
export type GateDecision =
  | { type: 'wait'; reason: string; requeueMs?: number }
  | { type: 'open' }
  | { type: 'startAnalysis'; step: Extract<CanaryStep, { analysis: unknown }>['analysis'] };

/** Decides a gate from the release step it stands for. Pure. */
export function decideGate(release: Release, state: ReleaseState, nowMs: number, analysisPhase: string | undefined): GateDecision {
  const step = release.strategy.canary?.steps?.[state.stepIndex];
  if (!step) return { type: 'open' };
  if (state.gatePromoted) return { type: 'open' };
  if ('pause' in step) {
    if (step.pause.duration === undefined) return { type: 'wait', reason: `paused at step ${state.stepIndex + 1}: promote ${release.name} to go on` };
    const endsAt = (state.gateOpenedAtMs ?? nowMs) + parseDurationMs(step.pause.duration);
    return nowMs >= endsAt ? { type: 'open' } : { type: 'wait', reason: `pausing at step ${state.stepIndex + 1} until ${new Date(endsAt).toISOString()}`, requeueMs: endsAt - nowMs };
  }
  if ('analysis' in step) {
    if (analysisPhase === undefined) return { type: 'startAnalysis', step: step.analysis };
    if (analysisPhase === 'Successful') return { type: 'open' };
    return { type: 'wait', reason: `analysis at step ${state.stepIndex + 1}: ${analysisPhase}` };
  }
  return { type: 'open' };
}

/** A member of a release as {@link releasePageWeight} reads it. */
export interface PageWeightMember {
  /** Its committed status; undefined before its first reconcile. */
  status: RolloutStatus | undefined;
  /** The revision its spec asks for now; undefined when it is not applied. */
  desiredRevision: string | undefined;
}

/**
 * The share of page loads a release in progress sends to its canary side: the smallest canary
 * weight among its members rolling out, joined to the attempt or not yet. A member whose new
 * revision its engine has not taken up yet has no canary to serve a new page's API calls: it holds
 * the weight at 0. Members done (or unchanged) are on one version for both sides and hold nothing,
 * so once every member is done the weight is 100, not back to 0 until the release is promoted.
 * An aborted member left out of the attempt holds nothing either.
 */
export function releasePageWeight(members: readonly PageWeightMember[]): number {
  let weight = 100;
  for (const { status, desiredRevision } of members) {
    if (desiredRevision !== undefined && desiredRevision !== status?.stableRevision && desiredRevision !== status?.canaryRevision) return 0;
    if (!status || status.abort || status.canaryRevision === undefined || status.canaryRevision === status.stableRevision) continue;
    weight = Math.min(weight, status.weights.canary);
  }
  return weight;
}
