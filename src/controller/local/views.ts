/** Gathers a single-host service's view inputs (status, instances, router figures) for the view builder. */
import type { RolloutStatus } from '../../engine/index.js';
import type { RevisionStats } from '../../router/contract/index.js';
import type { InstanceInfo } from '../../runtime/runtime.js';
import type { AppService, RolloutSpec } from '../../documents/schema.js';
import type { StoredRevision } from '../../state/store.js';
import { buildRolloutView, type InstanceView, type ObservedRevision, type RevisionTraffic, type ServiceView, type StateWritesView } from '../../view/index.js';
import type { TrafficInForce } from '../../engine/index.js';

/** Everything a view is made of. */
export interface ViewInputs {
  service: AppService;
  spec: RolloutSpec | undefined;
  status: RolloutStatus | undefined;
  traffic: TrafficInForce | undefined;
  revisions: StoredRevision[];
  instances: InstanceInfo[];
  stats: (revision: string) => RevisionStats;
  desiredRevision: string;
  /** The guard's latest verdict on the canary, when one is judged. */
  guard?: { verdict: string; reason: string } | undefined;
  /** Commit version of the status. */
  version?: number | undefined;
  /** A write outage of the state store in progress. */
  stateWrites?: StateWritesView | undefined;
  /** The committed traffic is not in force on the data plane yet (see `LocalRouting.inForce`). */
  routePending?: boolean | undefined;
}

/** What a view says while the engine is done but its route has not reached the router yet. */
export const ROUTE_PENDING_MESSAGE = 'waiting for the router to put the route in force';

/** What `graylane history` shows instead of an environment value unless asked with `--show-env`. */
export const MASKED_VALUE = '***';

/**
 * One line saying what a revision runs, for `graylane history`. Environment values are masked
 * unless `showEnv`: they often hold secrets, and history is printed to terminals and CI logs.
 */
export function revisionSummary(template: unknown, options: { showEnv?: boolean } = {}): string {
  const t = template as { command?: string[]; env?: Record<string, string>; targets?: string[] };
  if (t.targets) return `targets ${t.targets.join(', ')}`;
  const env = Object.entries(t.env ?? {}).map(([k, v]) => `${k}=${options.showEnv === true ? v : MASKED_VALUE}`).join(' ');
  return `${(t.command ?? []).join(' ')}${env ? `  ${env}` : ''}`;
}

/**
 * The view of one service on a single host: gathers the builder's inputs from the store's
 * revisions, the runtime's instances and the router's figures, then builds the view.
 */
export function buildServiceView(input: ViewInputs): ServiceView {
  // The runtime's order decides the order of old revisions, as the view shows them.
  const names = new Set<string>([...input.instances.map((i) => i.revision)]);
  for (const r of [input.status?.stableRevision, input.status?.canaryRevision]) if (r) names.add(r);
  const revisions: ObservedRevision[] = [...names].map((name) => ({
    name,
    number: input.revisions.find((r) => r.name === name)?.number ?? 0,
    instances: input.instances.filter((i) => i.revision === name).map(instanceView),
  }));
  // Done only once routed: a client that waited for Healthy must find the new route in force.
  const pending = input.routePending === true && (input.status?.phase === 'Healthy' || input.status?.phase === 'Completed') && !input.status.abort;
  return buildRolloutView({
    name: input.service.name,
    static: input.service.targets !== undefined,
    spec: input.spec,
    status: pending ? { ...input.status!, phase: 'Progressing', message: ROUTE_PENDING_MESSAGE } : input.status,
    traffic: input.traffic,
    revisions,
    stats: Object.fromEntries([...names].map((name) => [name, revisionTraffic(input.stats(name))])),
    guard: input.guard,
    version: input.version,
    stateWrites: input.stateWrites,
  });
}

/** A revision's router figures as the view shows them. */
export function revisionTraffic(s: RevisionStats): RevisionTraffic {
  // `failed` counts each failed request once (a 502 is not also an upstream error on top).
  return {
    requestsPerSecond: s.requestsPerSecond,
    errorRate: s.requests === 0 ? 0 : s.failed / s.requests,
    p99Ms: s.requests === 0 ? null : s.latencyMs.p99,
    fallbacks: s.fallbacks,
    unreadyServed: s.unreadyServed,
  };
}

/** An instance for `status`: its state, restarts, last exit and last probe. */
export function instanceView(i: InstanceInfo): InstanceView {
  const view: InstanceView = { id: i.id, state: i.state, restarts: i.restarts };
  if (i.lastExit) {
    view.lastExit = i.lastExit.signal ? `killed by ${i.lastExit.signal}` : i.lastExit.code === null ? 'exited (code unknown)' : `exited with code ${i.lastExit.code}`;
    view.lastExitAtMs = i.lastExit.atMs;
  }
  if (i.lastProbe) view.lastProbe = { ...i.lastProbe };
  if (i.lastError !== undefined) view.lastError = i.lastError;
  return view;
}
