/**
 * A person's operation on a whole release, decided purely: from the release's state and its
 * members' statuses, the state to commit and the member operations to carry out after it, or a
 * refusal that says why the operation makes no sense now. The release loop commits, then acts,
 * as it does for its own passes. Randomness (a retry's new generation) comes in as an argument.
 */
import type { Release } from '../../documents/schema.js';
import type { RolloutStatus, UserOperation } from '../types.js';
import { activeMembers, revertFinished, type ReleaseAction, type ReleaseDecision, type ReleaseMemberStatus } from './decide.js';
import { abortGraceMs, type ReleaseState } from './releases.js';

/** Why a release operation was refused. */
export type ReleaseOperationErrorCode =
  /** No attempt is in progress or aborted, or none of its members is still on its revisions. */
  | 'NothingInProgress'
  /** Retry of a release that is not aborted. */
  | 'NotAborted'
  /** Anything but retry on an aborted release. */
  | 'Aborted'
  /** Pause of a release a person already paused. */
  | 'AlreadyPaused'
  /** Resume of a release no person paused. */
  | 'NotPaused'
  /** A header or mirror route set by hand: not an operation on a release. */
  | 'NotForRelease';

/** An operation that makes no sense for the release now; its message is what people read. */
export class ReleaseOperationError extends Error {
  constructor(
    /** Machine-readable reason. */
    readonly code: ReleaseOperationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReleaseOperationError';
  }
}

/** Input of {@link decideReleaseOperation}. */
export interface DecideReleaseOperationInput {
  /** The release's definition. */
  release: Release;
  /** Its committed state; undefined before its first commit. */
  state: ReleaseState | undefined;
  /** The committed statuses of its members (at least those of the attempt in force). */
  members: readonly ReleaseMemberStatus[];
  /** What the person asked for. */
  operation: UserOperation;
  /** Fresh random values; a retry's new attempt takes `generation`. */
  random: { generation: string };
  /** Epoch ms; an abort's grace for pages still loading from the canary counts from it. */
  now: number;
}

/**
 * Decides a person's operation on a release: every member of the attempt in force gets the
 * operation (resume and promote resume only members a person paused), and the release's state
 * says what happened. Throws {@link ReleaseOperationError} when it makes no sense now. Pure.
 */
export function decideReleaseOperation(input: DecideReleaseOperationInput): ReleaseDecision {
  const { release: { name }, state, operation: op } = input;
  if (op.type === 'setHeaderRoute' || op.type === 'setMirrorRoute') throw new ReleaseOperationError('NotForRelease', releaseRouteRefusal(name, op.type));
  const members = state && (state.phase === 'progressing' || state.phase === 'aborted') ? activeMembers(state, input.members) : [];
  const what = op.type === 'promoteFull' ? 'promote' : op.type === 'setWeight' ? 'set the weight of' : op.type;
  if (!state || members.length === 0) throw new ReleaseOperationError('NothingInProgress', `nothing to ${what}: release ${name} has no rollout in progress`);
  const why = `release ${name}: ${op.type === 'promoteFull' ? 'promote --full' : op.type} by operator`;
  const each = (operation: UserOperation, only: { service: string; status: RolloutStatus }[] = members): ReleaseAction[] =>
    only.map((m) => ({ type: 'operateMember', service: m.service, operation, why }));
  // Members a person paused hold until resumed; a gate's own pause is the release's to open.
  const userPaused = members.filter((m) => m.status.pauseConditions.some((p) => p.reason === 'UserPause'));
  if (op.type === 'retry') {
    if (state.phase !== 'aborted') throw new ReleaseOperationError('NotAborted', `release ${name} is not aborted: only an aborted release can be retried`);
    return {
      state: { ...state, generation: input.random.generation, phase: 'progressing', stepIndex: 0, gateOpenedAtMs: undefined, gatePromoted: false, analysisRun: undefined, paused: false, abortGraceUntilMs: undefined, message: `retrying ${members.map((m) => m.service).join(', ')}` },
      actions: each({ type: 'retry' }),
    };
  }
  if (state.phase === 'aborted') throw new ReleaseOperationError('Aborted', `release ${name} is aborted: \`graylane retry ${name}\` to run it again, or apply a new revision`);
  switch (op.type) {
    case 'pause':
      if (state.paused) throw new ReleaseOperationError('AlreadyPaused', `release ${name} is already paused`);
      // Members hold too, so that none moves on to its next weight between gates.
      return { state: { ...state, paused: true, message: `paused by operator at step ${state.stepIndex + 1}: \`graylane resume ${name}\` or \`graylane promote ${name}\` to go on` }, actions: each({ type: 'pause' }) };
    case 'resume':
      if (!state.paused) throw new ReleaseOperationError('NotPaused', `release ${name} was not paused by a person (\`graylane promote ${name}\` passes a pause step)`);
      return { state: { ...state, paused: false, message: `resumed at step ${state.stepIndex + 1}` }, actions: each({ type: 'resume' }, userPaused) };
    case 'promote':
      return { state: { ...state, paused: false, gatePromoted: true }, actions: each({ type: 'resume' }, userPaused) };
    case 'promoteFull':
      return { state: { ...state, paused: false }, actions: each({ type: 'promoteFull' }) };
    case 'abort': {
      const finished = revertFinished({ release: input.release, state, members: input.members, now: input.now, why, sayStuck: true });
      return { state: { ...state, phase: 'aborted', paused: false, abortGraceUntilMs: input.now + abortGraceMs(input.release), message: 'aborted by operator; every member is back on stable' }, actions: [...each({ type: 'abort' }), ...finished] };
    }
    case 'setWeight':
      return { state: { ...state, message: `weight set to ${op.weight}% by hand at step ${state.stepIndex + 1}; holds until the next gate opens` }, actions: each({ type: 'setWeight', weight: op.weight }) };
  }
}

/**
 * Why a release (or one of its members) takes no route set by hand: the release pins each client
 * to one side across all its members, and a route on one member would send part of a page load
 * to the other side.
 */
export function releaseRouteRefusal(release: string, what: 'setHeaderRoute' | 'setMirrorRoute'): string {
  return `${what === 'setHeaderRoute' ? 'a header' : 'a mirror'} route cannot be set by hand on release ${release} or its members: the release pins each client to one side across its members, and a route on one of them would split a page load between versions`;
}
