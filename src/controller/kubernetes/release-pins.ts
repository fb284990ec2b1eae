/**
 * The pins a member's routers carry on a cluster (see src/traffic/release-pin.ts), read from its
 * Release: while the release's attempt progresses, each member the attempt changes carries the
 * release's pins. A member the attempt leaves alone carries none: its one revision serves either
 * side, and if it assigned sides by its own weight (none on the canary) it would pin every client
 * it saw first to stable, and the changed members would never see them on the canary.
 *
 * After an abort, within the release's `abortGrace`, the canary's pins stay (phase `aborted`):
 * clients whose page the canary served keep it for the grace, as on a single host, while nobody
 * new is pinned; then they go. After promotion, within the `skewWindow`, the stable pins stay
 * (phase `promoted`): a client whose page the old version served keeps the old revisions of every
 * member while new clients all get the new ones, as on a single host; then they go. The release
 * loop asks for the members' passes when either ends.
 *
 * While pins are handed out, a member's routes also follow the release's weight and keep its old
 * revision for stable pins once it is done before the others (engine/release/member-traffic.ts):
 * each member writes its own routes, so each applies those rules to its own traffic.
 */
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import { releaseMemberTraffic } from '../../engine/release/member-traffic.js';
import { DEFAULT_PINNING, type ReleaseState } from '../../engine/release/releases.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { RolloutFlavour } from '../../kube/rollout-flavour.js';
import { readEngineMemory } from '../../state/kubernetes/engine-memory.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { releaseStateOf, type ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import type { ReleasePin } from '../../traffic/release-pin.js';
import { releasesNaming } from './release-members.js';

/** The Release whose pins `service` carries now, with its state and those pins; undefined when none are in force. */
function pinningRelease(releases: ObjectCache<ReleaseObject>, namespace: string, service: string, nowMs: number): { object: ReleaseObject; state: ReleaseState; pin: ReleasePin } | undefined {
  const naming = releasesNaming(releases, namespace, service);
  // A Rollout two Releases name runs as neither's member (InvalidSpec): nothing to pin.
  if (naming.length !== 1) return undefined;
  const object = naming[0]!;
  const pinning = object.spec.pinning;
  const state = releaseStateOf(object);
  if (pinning === undefined || state === undefined) return undefined;
  const inGrace = state.phase === 'aborted' && state.abortGraceUntilMs !== undefined && nowMs < state.abortGraceUntilMs;
  const inSkewWindow = state.phase === 'promoted' && state.skewUntilMs !== undefined && nowMs < state.skewUntilMs;
  if (state.phase !== 'progressing' && !inGrace && !inSkewWindow) return undefined;
  if (!state.members.some((m) => m.service === service)) return undefined;
  const pin: ReleasePin = {
    release: object.metadata?.name ?? state.name,
    generation: state.generation,
    cookie: pinning.cookie ?? DEFAULT_PINNING.cookie,
    header: pinning.header ?? DEFAULT_PINNING.header,
    allowForceHeader: pinning.allowForceHeader === true,
    phase: inGrace ? 'aborted' : inSkewWindow ? 'promoted' : 'progressing',
  };
  return { object, state, pin };
}

/** The pins of `service` in `namespace`, or undefined when none are in force. */
export function releasePinOf(releases: ObjectCache<ReleaseObject>, namespace: string, service: string, nowMs: number): ReleasePin | undefined {
  return pinningRelease(releases, namespace, service, nowMs)?.pin;
}

/** Options of {@link releaseTrafficOf}. */
export interface ReleaseTrafficOptions {
  releases: ObjectCache<ReleaseObject>;
  namespace: string;
  service: string;
  /** The member's own engine decision. */
  traffic: TrafficInForce;
  /** A member's committed engine status (undefined: none yet, or unreadable). */
  statusOf: (service: string) => RolloutStatus | undefined;
  nowMs: number;
}

/**
 * The traffic `service`'s routers carry: its own decision, or, while its release's attempt
 * progresses and hands out pins or its skew window holds old pages on the old version, that
 * decision under the release's rules (see the file comment).
 */
export function releaseTrafficOf(options: ReleaseTrafficOptions): TrafficInForce {
  const { service, traffic } = options;
  const pinning = pinningRelease(options.releases, options.namespace, service, options.nowMs);
  if (pinning === undefined || pinning.pin.phase === 'aborted') return traffic;
  const { object, state } = pinning;
  const members = object.spec.services.map((name) => ({ service: name, status: options.statusOf(name) }));
  return releaseMemberTraffic({ state, service, members, traffic });
}

/** A member's committed engine status, as {@link releaseTrafficOf} reads it: undefined before its first commit, or when its memory cannot be read. */
export function memberStatus(rollout: RolloutObject | undefined, flavour: RolloutFlavour): RolloutStatus | undefined {
  try {
    return readEngineMemory(rollout, flavour)?.engine as RolloutStatus | undefined;
  } catch {
    // Unreadable memory (InvalidSpec on that member's own pass): it serves no canary the release can count on.
    return undefined;
  }
}
