/**
 * A release member's traffic where each member is routed by its own objects and pins are plain
 * cookie and header matches (a cluster: src/traffic/release-pin.ts), pure. There is no one table
 * there to hold the page weight for all, as the single host's router has: each member's routes
 * split its unpinned clients and pin them to the side that served them, written in the member's
 * own pass. So each member applies the release's rules to its own traffic:
 *
 * - No member sends a client to its canary (and pins it there) before every member of the attempt
 *   has a canary that serves: a page pinned `canary` by the frontend would have its API calls
 *   answered by a backend whose canary has no ready pod, or whose routes carry no pins yet.
 * - A member done before the others keeps its old revision for the clients pinned `stable` (and
 *   splits new clients by the release's weight), while that revision is kept up: their pages are
 *   still the old version on the members not done, which still send `stable` pins to the old
 *   revision.
 * - Once the release is promoted, through its skew window, every member keeps its old revision
 *   for the clients pinned `stable` and sends every other client to its new one.
 */
import type { TrafficInForce } from '../types.js';
import type { ReleaseMemberStatus } from './decide.js';
import type { ReleaseState } from './releases.js';

/**
 * The share of unpinned clients a progressing attempt may send to its members' canaries: the
 * smallest canary weight among its members still rolling out. A member of the attempt with no
 * status yet, aborted, or moved past the attempt's revision holds it at 0; so does a member
 * rolling out that the attempt does not know yet (its routes carry no pins until the release
 * takes it in). Members done, or left alone, hold nothing: 100 once every member is done.
 */
export function attemptCanaryWeight(state: ReleaseState, members: readonly ReleaseMemberStatus[]): number {
  let weight = 100;
  for (const { service, status } of members) {
    const own = state.members.find((m) => m.service === service);
    const rollingOut = status?.canaryRevision !== undefined && status.canaryRevision !== status.stableRevision;
    if (own === undefined) {
      if (rollingOut && !status.abort) return 0;
      continue;
    }
    if (!status || status.abort) return 0;
    if (status.stableRevision === own.to && !rollingOut) continue;
    if (status.stableRevision !== own.from || status.canaryRevision !== own.to) return 0;
    weight = Math.min(weight, status.weights.canary);
  }
  return weight;
}

/** Input of {@link releaseMemberTraffic}. */
export interface ReleaseMemberTrafficInput {
  /** The release's committed state. */
  state: ReleaseState;
  /** The member whose traffic this is. */
  service: string;
  /** Every member the release names, with its committed status. */
  members: readonly ReleaseMemberStatus[];
  /** The member's own engine decision. */
  traffic: TrafficInForce;
}

/**
 * The traffic a member's routes carry while its release's pins are in force, the attempt
 * progressing or promoted (see the file comment); the member's own decision otherwise.
 */
export function releaseMemberTraffic(input: ReleaseMemberTrafficInput): TrafficInForce {
  const { state, traffic } = input;
  if (state.phase !== 'progressing' && state.phase !== 'promoted') return traffic;
  const own = state.members.find((m) => m.service === input.service);
  if (own === undefined || own.from === own.to) return traffic;
  const status = input.members.find((m) => m.service === input.service)?.status;
  const done = traffic.stableRevision === own.to && (traffic.canaryRevision === undefined || traffic.canaryRevision === own.to);
  // Only while the old revision is kept up (its scale-down delay runs): stable's pins to no pod at all would be worse than skew.
  const oldKept = status?.scaleDownDeadlines.some((d) => d.revision === own.from) === true;
  if (state.phase === 'promoted') {
    // The skew window: every new client on the new revision (the whole of the rollout's scale), stable's pins on the old.
    const full = status === undefined ? 100 : status.weights.canary + status.weights.stable;
    return done && oldKept ? { ...traffic, stableRevision: own.from, canaryRevision: own.to, canaryWeight: full } : traffic;
  }
  const weight = attemptCanaryWeight(state, input.members);
  if (done) return oldKept ? { ...traffic, stableRevision: own.from, canaryRevision: own.to, canaryWeight: weight } : traffic;
  if (traffic.stableRevision === own.from && traffic.canaryRevision === own.to) return { ...traffic, canaryWeight: Math.min(traffic.canaryWeight, weight) };
  return traffic;
}
