/**
 * A release's decisions, pure: from its definition, its state, its members' statuses and a few
 * observations, the next state and what must be done (operate members, start or stop the gate's
 * analysis, retire old revisions, say what happened). Time and randomness (a new attempt's
 * generation, the token secret) come in as arguments; the release loop carries the actions out.
 */
import type { Release } from '../../documents/schema.js';
import type { Operation, RolloutStatus, StartAnalysisAction } from '../types.js';
import { abortGraceMs, decideGate, skewWindowMs, type ReleaseState } from './releases.js';

/** After promotion, old revisions go early once no pinned client has used them for this long. */
export const IDLE_PINNED_MS = 15_000;

/** Something a release decided must be done, in order, after its state is committed. */
export type ReleaseAction =
  /** Apply an engine operation to one member (commit, then act), saying why. */
  | { type: 'operateMember'; service: string; operation: Operation; why: string }
  /** Start the analysis run of the release's gate (run on `service`'s canary). */
  | { type: 'startAnalysis'; service: string; analysis: StartAnalysisAction; stableRevision: string | undefined }
  /** Stop an analysis run. */
  | { type: 'stopAnalysis'; name: string }
  /** End an old revision's scale-down delay now: no pinned client needs it any more. */
  | { type: 'retireOld'; service: string; revision: string }
  /** Record an event about the release. */
  | { type: 'event'; level: 'info' | 'warning'; reason: string; message: string };

/** A member of a release with its committed status. */
export interface ReleaseMemberStatus {
  /** The member service. */
  service: string;
  /** Its committed status; undefined before its first reconcile. */
  status: RolloutStatus | undefined;
}

/** Input of {@link decideRelease}. */
export interface DecideReleaseInput {
  /** The release's definition. */
  release: Release;
  /** Its committed state; undefined before the first. */
  state: ReleaseState | undefined;
  /** Every member's committed status. */
  members: ReleaseMemberStatus[];
  /** Epoch ms. */
  now: number;
  /** Fresh random values, used when a new attempt (generation) or the first state (secret) is made. */
  random: { generation: string; secret: string };
  /** Phase of the state's gate analysis run (`state.analysisRun`), when it exists. */
  analysisPhase?: string | undefined;
  /** Epoch ms of the last request pinned to the old side (the data plane's count); for the skew window's end. */
  lastPinnedStableMs?: number | undefined;
}

/** What {@link decideRelease} decided. */
export interface ReleaseDecision {
  /** The state to commit (equal to the input's when nothing changed). */
  state: ReleaseState;
  /** What to do once it is committed, in order. */
  actions: ReleaseAction[];
}

/** The members of the attempt in force still on its revisions, with their statuses. Pure. */
export function activeMembers(state: ReleaseState, members: readonly ReleaseMemberStatus[]): { service: string; status: RolloutStatus }[] {
  return state.members.flatMap((m) => {
    const status = members.find((x) => x.service === m.service)?.status;
    return status && status.canaryRevision === m.to && status.canaryRevision !== status.stableRevision ? [{ service: m.service, status }] : [];
  });
}

/**
 * What an abort of the release does to the members of its attempt that already finished on the
 * new revision (one member's last step can end well before another's): each goes back to its
 * old revision, which its scale-down delay still keeps up, so that every member is on the old
 * version again and no page meets an API of the other one. A member whose old revision is gone
 * stays where it is; `sayStuck` reports it (once, when the release aborts).
 */
export function revertFinished(options: { release: Release; state: ReleaseState; members: readonly ReleaseMemberStatus[]; now: number; why: string; sayStuck: boolean }): ReleaseAction[] {
  const { release, state, now, why } = options;
  const actions: ReleaseAction[] = [];
  for (const m of state.members) {
    const status = options.members.find((x) => x.service === m.service)?.status;
    if (!status || m.from === m.to || status.stableRevision !== m.to || status.canaryRevision !== m.to) continue;
    if (status.scaleDownDeadlines.some((d) => d.revision === m.from && d.atMs > now)) {
      actions.push({ type: 'operateMember', service: m.service, operation: { type: 'revertPromoted', promoted: m.to, previous: m.from, reason: why }, why });
    } else if (options.sayStuck) {
      actions.push({ type: 'event', level: 'warning', reason: 'ReleaseMemberNotReverted', message: `${m.service} had finished on ${m.to} and its old revision ${m.from} is no longer up, so it stays on ${m.to}: \`graylane undo ${release.name}\` rolls every member back to its previous revision` });
    }
  }
  return actions;
}

/** One pass over a release: start, gate, abort, finish, retire. Pure and idempotent. */
export function decideRelease(input: DecideReleaseInput): ReleaseDecision {
  const { release, now } = input;
  const actions: ReleaseAction[] = [];
  const statusOf = (service: string) => input.members.find((m) => m.service === service)?.status;
  const operate = (service: string, operation: Operation, why: string) => actions.push({ type: 'operateMember', service, operation, why });
  const event = (level: 'info' | 'warning', reason: string, message: string) => actions.push({ type: 'event', level, reason, message });
  const rollingOut = release.services
    .map((service) => ({ service, status: statusOf(service) }))
    .filter((m): m is { service: string; status: RolloutStatus } => !!m.status?.stableRevision && !!m.status.canaryRevision && m.status.canaryRevision !== m.status.stableRevision);

  // Step 1: a new attempt starts when members are rolled out to revisions the release does not
  // know. Members changed by the same apply join the attempt while it has not passed a gate yet.
  // Clients get a token even between releases, so that those who loaded a page before a release
  // starts are known to be on the (then current, now stable) version.
  const current: ReleaseState = input.state ?? { name: release.name, generation: 'g0', phase: 'idle', stepIndex: 0, members: [], secret: input.random.secret, message: 'no release under way' };
  let state = current;
  // A member still aborted from an earlier attempt stays out of a new one: only a new revision
  // (or a retry) brings it back. Otherwise its old abort would abort the new attempt at once.
  const unknown = rollingOut.filter((m) => !m.status.abort && !current.members.some((x) => x.service === m.service && x.to === m.status.canaryRevision));
  if (unknown.length > 0) {
    const joins = current.phase === 'progressing' && current.gateOpenedAtMs === undefined && current.stepIndex === 0 && unknown.every((u) => !current.members.some((x) => x.service === u.service));
    const added = unknown.map((m) => ({ service: m.service, from: m.status.stableRevision!, to: m.status.canaryRevision! }));
    if (joins) {
      state = { ...current, members: [...current.members, ...added], message: `releasing ${[...current.members, ...added].map((m) => m.service).join(', ')}` };
    } else {
      // A release still in its skew window is superseded: its old revisions are unreachable now.
      if (current.phase === 'promoted') for (const m of current.members) actions.push({ type: 'retireOld', service: m.service, revision: m.from });
      const members = rollingOut.filter((m) => !m.status.abort).map((m) => ({ service: m.service, from: m.status.stableRevision!, to: m.status.canaryRevision! }));
      state = { name: release.name, generation: input.random.generation, phase: 'progressing', stepIndex: 0, members, secret: current.secret, message: `releasing ${members.map((m) => m.service).join(', ')}` };
      event('info', 'ReleaseStarted', `release ${release.name} started for ${members.map((m) => `${m.service} → ${m.to}`).join(', ')}`);
    }
  }

  if (state.phase === 'progressing') {
    // Only this attempt's members count: a service outside it (or still on an older abort) neither
    // holds a gate nor aborts the release.
    const changing = activeMembers(state, input.members);
    // Step 2: one member aborted (by a person, the guard or its progress deadline): all go back.
    const aborted = changing.find((m) => m.status.abort);
    if (aborted) {
      const why = `release ${release.name} aborted: ${aborted.service} failed`;
      for (const m of changing) if (!m.status.abort) operate(m.service, { type: 'abort' }, why);
      actions.push(...revertFinished({ release, state, members: input.members, now, why, sayStuck: true }));
      if (state.analysisRun) actions.push({ type: 'stopAnalysis', name: state.analysisRun });
      event('warning', 'ReleaseAborted', `release ${release.name} aborted because ${aborted.service} failed; all members back on stable`);
      // The grace runs from the first member's own abort, not from this pass, which may come later:
      // that member's canary is scaled down the grace after its abort at the earliest (memberSpec),
      // and its pins must not outlast it.
      const firstAbortMs = Math.min(now, ...changing.flatMap((m) => (m.status.abort && m.status.abortedAtMs !== undefined ? [m.status.abortedAtMs] : [])));
      return { state: { ...state, phase: 'aborted', paused: false, abortGraceUntilMs: firstAbortMs + abortGraceMs(release), message: `aborted: ${aborted.service} failed (${aborted.status.message ?? 'aborted'}); every member is back on stable` }, actions };
    }
    // Step 3: every member done: promoted, old revisions kept for pinned clients.
    if (changing.length === 0) {
      const skewUntilMs = now + skewWindowMs(release);
      event('info', 'ReleasePromoted', `release ${release.name} promoted; skew window until ${new Date(skewUntilMs).toISOString()}`);
      return { state: { ...state, phase: 'promoted', skewUntilMs, message: `promoted; clients pinned to the old version keep it until ${new Date(skewUntilMs).toISOString()} or until they go quiet` }, actions };
    }
    // Step 4: a person's pause holds the release where it is: no gate opens, however long it waited.
    if (state.paused) {
      return { state: { ...state, message: `paused by operator at step ${state.stepIndex + 1}: \`graylane resume ${release.name}\` or \`graylane promote ${release.name}\` to go on` }, actions };
    }
    // Step 5: a gate opens only when every changed member waits at it.
    const first = changing[0]!;
    const atGate = changing.every((m) => m.status.phase === 'Paused' && m.status.currentStepIndex === first.status.currentStepIndex && m.status.pauseConditions.some((p) => p.reason === 'CanaryPauseStep'));
    if (!atGate) {
      return { state: { ...state, stepIndex: Math.min(...changing.map((m) => m.status.currentStepIndex)), message: `rolling out ${changing.map((m) => `${m.service} ${m.status.weights.canary}%`).join(', ')}` }, actions };
    }
    const stepIndex = first.status.currentStepIndex;
    if (state.stepIndex !== stepIndex || state.gateOpenedAtMs === undefined) {
      state = { ...state, stepIndex, gateOpenedAtMs: now, gatePromoted: false, analysisRun: undefined };
    }
    const runName = `${release.name}.${state.generation}.step-${stepIndex}`;
    const analysisPhase = state.analysisRun ? input.analysisPhase : undefined;
    const decision = decideGate(release, state, now, analysisPhase);
    if (decision.type === 'startAnalysis') {
      actions.push({ type: 'startAnalysis', service: first.service, analysis: { type: 'startAnalysis', name: runName, kind: 'step', analysis: decision.step, revision: first.status.canaryRevision! }, stableRevision: first.status.stableRevision });
      return { state: { ...state, analysisRun: runName, message: `analysis at step ${stepIndex + 1}` }, actions };
    }
    if (decision.type === 'wait') {
      if (analysisPhase === 'Failed' || analysisPhase === 'Error') {
        const why = `release ${release.name}: analysis ${analysisPhase}`;
        for (const m of changing) operate(m.service, { type: 'abort' }, why);
        actions.push(...revertFinished({ release, state, members: input.members, now, why, sayStuck: true }));
        event('warning', 'ReleaseAborted', `release ${release.name} aborted: analysis ${analysisPhase}`);
        return { state: { ...state, phase: 'aborted', paused: false, abortGraceUntilMs: now + abortGraceMs(release), message: `aborted: analysis at step ${stepIndex + 1} ${analysisPhase}` }, actions };
      }
      return { state: { ...state, message: decision.reason }, actions };
    }
    for (const m of changing) operate(m.service, { type: 'promote' }, `release ${release.name} gate ${stepIndex + 1} opened`);
    return { state: { ...state, gateOpenedAtMs: undefined, gatePromoted: false, analysisRun: undefined, message: `gate ${stepIndex + 1} passed` }, actions };
  }

  if (state.phase === 'aborted') {
    // Step 6: a member that finished after the abort reached it (its last pass and the abort
    // crossed; the abort was refused as nothing was in progress) goes back as well.
    const why = `release ${release.name} is aborted`;
    actions.push(...revertFinished({ release, state, members: input.members, now, why, sayStuck: false }));
    return { state, actions };
  }

  if (state.phase === 'promoted') {
    // Step 7: the skew window ends, or pinned clients of the old version went quiet.
    const lastPinned = input.lastPinnedStableMs ?? 0;
    const quiet = now - Math.max(lastPinned, (state.skewUntilMs ?? now) - skewWindowMs(release)) > IDLE_PINNED_MS;
    if (now >= (state.skewUntilMs ?? 0) || quiet) {
      for (const m of state.members) actions.push({ type: 'retireOld', service: m.service, revision: m.from });
      event('info', 'ReleaseCompleted', `release ${release.name} complete: old revisions retired (${quiet ? 'no pinned clients left' : 'skew window over'})`);
      return { state: { ...state, phase: 'idle', message: 'released; old revisions retired' }, actions };
    }
  }
  return { state, actions };
}
