/**
 * The traffic-provider port: how an engine's traffic decision reaches a data plane. One small
 * interface; one folder per adapter (`builtin/` is graylane's own router; Service selectors,
 * ingress-nginx, Istio and Gateway API follow on Kubernetes), chosen through the registry by
 * the `trafficRouting` key a document names. An adapter declares what it can do; asking for
 * anything else is a {@link TrafficCapabilityError} at validate time, never a silent no-op.
 */
import type { TrafficInForce } from '../engine/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import type { ReleaseRoute } from '../router/contract/index.js';
import type { ReleasePin } from './release-pin.js';

/** What a traffic provider can do. */
export type TrafficCapability =
  /** Split requests between stable and canary by percentage. */
  | 'weight'
  /** Send requests matching a header to the canary (`setHeaderRoute` with `headerName`). */
  | 'headerRoute'
  /** Send requests carrying a cookie to the canary (`setHeaderRoute` with `cookieName`). */
  | 'cookieRoute'
  /** Copy a share of requests to the canary (`setMirrorRoute`). */
  | 'mirror'
  /** Reach a blue-green preview before promotion (`previewRevision`). */
  | 'preview'
  /** Keep a client on one side of a release across services (version tokens). */
  | 'releasePinning'
  /** Tell whether a decision is in force on the data plane (see {@link TrafficProvider.verify}). */
  | 'verify';

/** Where one revision's instances listen (single host; providers that route by labels ignore it). */
export interface TrafficEndpoint {
  /** Instance id, unique. */
  id: string;
  /** Revision it runs. */
  revision: string;
  /** `host:port`. */
  address: string;
  /** Takes new requests. */
  ready: boolean;
  /** Finishing its requests; takes no new ones. */
  draining: boolean;
  /**
   * Not ready but running (its readiness probe fails after it was ready): a data plane that pins
   * releases may send a pinned request here rather than to the other version. Absent: false.
   */
  lastResort?: boolean;
}

/**
 * Whether an instance is running though unready (see `InstanceInfo.readyBefore`), so that a
 * release may still send a request pinned to its side there ({@link TrafficEndpoint.lastResort}).
 */
export function isLastResort(instance: { state: string; readyBefore?: boolean | undefined }): boolean {
  return instance.state === 'unready' && instance.readyBefore === true;
}

/** One service's traffic as the engine decided it, with what a provider needs to apply it. */
export interface TrafficDecision {
  /** Namespace (`default` on a single host). */
  namespace: string;
  /** Service (rollout) name. */
  service: string;
  /** The rollout's spec (strategy and its `trafficRouting`); absent for a service with no rollout (static targets). */
  spec?: RolloutSpec | undefined;
  /** Host the service answers for, if any. */
  host?: string | undefined;
  /** Path prefix it owns; `/` by default. */
  pathPrefix?: string | undefined;
  /** The engine's decision in force. */
  traffic: TrafficInForce;
  /** The runtime's instances of the service, for providers that route to addresses. */
  endpoints: TrafficEndpoint[];
  /**
   * The pins of the release the service moves with, where a provider matching plain cookies and
   * headers carries them (Kubernetes); absent: no pins in force (none, or promoted or aborted).
   */
  release?: ReleasePin | undefined;
}

/** Whether a decision is in force on the data plane. */
export type Verification =
  /** The data plane routes as decided. */
  | 'verified'
  /** Not yet (a controller elsewhere has not caught up): the engine holds the step. */
  | 'pending'
  /** The provider cannot tell; the engine goes on as if verified. */
  | 'unsupported';

/** One problem with a rollout's traffic configuration, as the document loader reports problems. */
export interface TrafficIssue {
  /** Path of the field in the rollout spec, e.g. `['strategy', 'canary', 'steps', 2, 'setHeaderRoute']`. */
  path: (string | number)[];
  /** Why, as a sentence fragment. */
  reason: string;
}

/** A traffic provider. */
export interface TrafficProvider {
  /** The key under `trafficRouting` that selects it, e.g. `builtin`. */
  readonly type: string;
  /** What it can do. */
  readonly capabilities: ReadonlySet<TrafficCapability>;
  /**
   * Checks a rollout's traffic configuration and every step that needs a capability, before
   * anything is applied. Returns every problem (empty when none); never throws for bad input.
   */
  validate(spec: RolloutSpec): TrafficIssue[];
  /**
   * Puts a decision in force. Throws {@link TrafficCapabilityError} for a decision that needs a
   * capability it lacks (validate should have refused the document before).
   */
  apply(decision: TrafficDecision): Promise<void>;
  /** Whether the decision last applied for the service is in force. */
  verify(decision: TrafficDecision): Promise<Verification>;
  /** Takes away every route it manages for a service (the service is removed); idempotent. */
  removeManagedRoutes(key: { namespace: string; service: string }): Promise<void>;
  /**
   * Puts the release pinning table in force (the whole of it: releases left out are dropped).
   * Present only where the provider declares `releasePinning` and pins through a table of signed
   * tokens (the built-in router); a cluster provider declaring it pins through
   * {@link TrafficDecision.release} instead. A release's pinning is in force
   * only while every member service is routed by this provider; until then it waits, kept.
   */
  applyReleases?(releases: ReleaseRoute[]): Promise<void>;
}

/** A provider was asked for something it cannot do. */
export class TrafficCapabilityError extends Error {
  readonly code = 'UnsupportedTrafficCapability';
  constructor(
    /** The provider's type. */
    readonly provider: string,
    /** What it lacks. */
    readonly capability: TrafficCapability,
    message: string,
  ) {
    super(message);
    this.name = 'TrafficCapabilityError';
  }
}
