/**
 * Builds the view of one service's rollout from engine-level inputs: the spec, the status, the
 * traffic in force, the revisions observed with their instances, and the traffic figures of each
 * revision. Pure: the local controller and a Kubernetes one gather the inputs their own way.
 */
import { describeStep, type RolloutStatus, type TrafficInForce } from '../engine/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import { parseDurationMs } from '../lib/duration.js';
import { outcomeOf } from './outcome.js';
import { DEFAULT_NAMESPACE, type GuardVerdictView, type InstanceView, type RevisionLiveView, type RevisionRole, type RouteView, type ServiceView, type StateWritesView } from './view-model.js';

/** A revision as observed: its number and its instances (stopped ones included; the view leaves them out). */
export interface ObservedRevision {
  /** Revision name (short hash). */
  name: string;
  /** 1, 2, 3 … as history numbers them; 0 when unknown. */
  number: number;
  /** Its instances as the runtime reports them. */
  instances: InstanceView[];
}

/** A revision's traffic figures over the last window, plain numbers (from the router's RevisionStats). */
export interface RevisionTraffic {
  /** Requests per second. */
  requestsPerSecond: number;
  /** Failed requests / requests; 0 without traffic. */
  errorRate: number;
  /** p99 latency in ms; null without traffic. */
  p99Ms: number | null;
  /** Requests meant for it that went to the other side for want of a ready instance. */
  fallbacks: number;
  /** Pinned within-page requests its unready instances served for want of a ready one. */
  unreadyServed: number;
}

/** No traffic at all: what a revision the router has no figures for shows. */
export const NO_TRAFFIC: RevisionTraffic = { requestsPerSecond: 0, errorRate: 0, p99Ms: null, fallbacks: 0, unreadyServed: 0 };

/** Everything a rollout's view is made of. */
export interface RolloutViewInputs {
  /** Service name. */
  name: string;
  /** Its namespace; `default` when absent (a single host). */
  namespace?: string | undefined;
  /** A service of static targets: nothing rolls out, graylane only routes. */
  static: boolean;
  /** The rollout spec (absent for static targets). */
  spec: RolloutSpec | undefined;
  /** The committed status (absent before the first reconcile). */
  status: RolloutStatus | undefined;
  /** The engine's last traffic decision in force. */
  traffic: TrafficInForce | undefined;
  /**
   * The revisions observed, in the order the runtime reports their instances (the view shows
   * stable, then canary, then the others in this order), with the known revisions' numbers.
   */
  revisions: ObservedRevision[];
  /** Traffic figures by revision name; a revision absent here had no traffic. */
  stats: Readonly<Record<string, RevisionTraffic>>;
  /** The guard's latest verdict on the canary, when one is judged. */
  guard?: GuardVerdictView | undefined;
  /** Commit version of the status. */
  version?: number | undefined;
  /** A write outage of the state store in progress. */
  stateWrites?: StateWritesView | undefined;
}

function strategyOf(input: RolloutViewInputs): ServiceView['strategy'] {
  const spec = input.spec;
  if (input.static || !spec) return 'static';
  if (spec.strategy.blueGreen) return 'blueGreen';
  return (spec.strategy.canary?.steps?.length ?? 0) > 0 ? 'canary' : 'rolling';
}

const ORDER: Record<RevisionRole, number> = { stable: 0, active: 0, canary: 1, preview: 1, old: 2 };

/** The view of one service's rollout. */
export function buildRolloutView(input: RolloutViewInputs): ServiceView {
  const { status, traffic, spec } = input;
  const strategy = strategyOf(input);
  const steps = strategy === 'canary' ? (spec?.strategy.canary?.steps?.length ?? 0) : 0;
  const stable = status?.stableRevision;
  const canary = status?.canaryRevision !== stable ? status?.canaryRevision : undefined;
  const inProgress = canary !== undefined;
  const observed = new Map(input.revisions.map((r) => [r.name, r]));
  const live = (name: string) => (observed.get(name)?.instances ?? []).filter((i) => i.state !== 'stopped');
  const readyOf = (name: string) => live(name).filter((i) => i.state === 'ready').length;
  const names = new Set<string>([...(stable ? [stable] : []), ...(canary ? [canary] : []), ...input.revisions.filter((r) => r.instances.length > 0).map((r) => r.name)]);
  const revisions: RevisionLiveView[] = [];
  for (const name of names) {
    const mine = live(name);
    const role: RevisionRole = name === stable ? 'stable' : name === canary ? (strategy === 'blueGreen' ? 'preview' : 'canary') : 'old';
    let weight = 0;
    if (traffic) {
      const trafficCanary = traffic.canaryRevision !== traffic.stableRevision ? traffic.canaryRevision : undefined;
      // People read percent; the engine's weight is on the rollout's scale (maxTrafficWeight).
      const percent = Math.round((traffic.canaryWeight * 100) / (spec?.strategy.canary?.trafficRouting?.maxTrafficWeight ?? 100));
      if (name === traffic.stableRevision) weight = trafficCanary ? 100 - percent : 100;
      else if (name === trafficCanary) weight = percent;
    }
    if (traffic && !spec?.strategy.canary?.trafficRouting && !spec?.strategy.blueGreen && canary) {
      // Instance-proportional split (rolling update): show what the router really does.
      const total = readyOf(stable ?? '') + readyOf(canary);
      const canaryShare = total === 0 ? 0 : Math.round((100 * readyOf(canary)) / total);
      weight = name === canary ? canaryShare : name === stable ? 100 - canaryShare : 0;
    }
    const s = input.stats[name] ?? NO_TRAFFIC;
    revisions.push({
      name,
      number: observed.get(name)?.number ?? 0,
      role,
      weight,
      ready: mine.filter((i) => i.state === 'ready').length,
      total: mine.filter((i) => i.state !== 'stopping').length,
      requestsPerSecond: s.requestsPerSecond,
      errorRate: s.errorRate,
      p99Ms: s.p99Ms,
      fallbacks: s.fallbacks,
      unreadyServed: s.unreadyServed,
      instances: mine,
    });
  }
  revisions.sort((a, b) => ORDER[a.role] - ORDER[b.role]);
  const phase = status?.phase ?? 'Progressing';
  const stepNow = inProgress && steps > 0 ? Math.min((status?.currentStepIndex ?? 0) + 1, steps) : 0;
  const pauseReasons = (status?.pauseConditions ?? []).map((p) => p.reason);
  const routes = inProgress && traffic ? activeRoutes(traffic) : [];
  const guard = input.guard && inProgress ? input.guard : undefined;
  return {
    name: input.name,
    namespace: input.namespace ?? DEFAULT_NAMESPACE,
    kind: 'service',
    phase,
    strategy,
    step: stepNow,
    steps,
    message: timedPauseMessage(spec, status, steps) ?? status?.message ?? describePhase(phase, inProgress, pauseReasons),
    ...outcomeOf({ phase, revisions }),
    revisions,
    analysis: [
      ...(guard ? [{ name: 'guard', phase: guard.verdict, message: guard.reason }] : []),
      ...(status?.analysisRuns ?? []).map((a) => ({ name: a.name, phase: a.phase, ...(a.message ? { message: a.message } : {}) })),
    ],
    ...(guard ? { guard: { verdict: guard.verdict, reason: guard.reason } } : {}),
    aborted: status?.abort ?? false,
    pauseReasons,
    ...(routes.length > 0 ? { routes } : {}),
    ...(input.version !== undefined ? { version: input.version } : {}),
    ...(input.stateWrites ? { stateWrites: input.stateWrites } : {}),
  };
}

/** Header and mirror routes in force, as the steps that set them read. */
function activeRoutes(traffic: TrafficInForce): RouteView[] {
  return [
    ...traffic.headerRoutes.map((h): RouteView => ({ kind: 'header', name: h.name, description: describeStep({ setHeaderRoute: { name: h.name, match: h.match } }) })),
    ...traffic.mirrorRoutes.map((m): RouteView => ({ kind: 'mirror', name: m.name, description: describeStep({ setMirrorRoute: { name: m.name, percentage: m.percentage, match: m.match } }) })),
  ];
}

/**
 * A timed pause says when it ends, as a release's does ("pausing at step 2/4 until …"): the
 * engine's message names only the pause condition. A person's pause on top holds it longer.
 */
function timedPauseMessage(spec: RolloutSpec | undefined, status: RolloutStatus | undefined, steps: number): string | undefined {
  if (!status || status.phase !== 'Paused' || status.canaryRevision === status.stableRevision) return undefined;
  const step = spec?.strategy.canary?.steps?.[status.currentStepIndex];
  const cond = status.pauseConditions.find((p) => p.reason === 'CanaryPauseStep');
  if (!step || !('pause' in step) || step.pause.duration === undefined || !cond || status.pauseConditions.length > 1) return undefined;
  const untilMs = cond.startedAtMs + parseDurationMs(step.pause.duration);
  // The engine appends a warning after "; " (a step promoted without evidence): keep it.
  const warning = status.message?.includes('; ') ? status.message.slice(status.message.indexOf('; ')) : '';
  return `pausing at step ${status.currentStepIndex + 1}/${steps} until ${new Date(untilMs).toISOString()}${warning}`;
}

function describePhase(phase: ServiceView['phase'], inProgress: boolean, pauses: string[]): string {
  if (phase === 'Paused') return pauses.includes('UserPause') ? 'paused by an operator: resume to go on' : 'paused: promote to go on';
  if (phase === 'Degraded') return 'degraded: traffic is on stable';
  if (phase === 'Healthy') return 'healthy';
  return inProgress ? 'rolling out' : 'starting';
}
