/** Builds the shared view-model of a service from status, instances and router figures. */
import { describeStep, type RolloutStatus } from '../../engine/index.js';
import { parseDurationMs } from '../../lib/duration.js';
import type { RevisionStats } from '../../router/contract/index.js';
import type { InstanceInfo } from '../../runtime/runtime.js';
import type { AppService, RolloutSpec } from '../../documents/schema.js';
import type { StoredRevision } from '../../state/store.js';
import type { InstanceView, RevisionLiveView, RevisionRole, RouteView, ServiceView, StateWritesView } from '../view-model.js';
import type { TrafficInForce } from './routes.js';

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
}

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

function strategyOf(service: AppService, spec: RolloutSpec | undefined): ServiceView['strategy'] {
  if (service.targets || !spec) return 'static';
  if (spec.strategy.blueGreen) return 'blueGreen';
  return (spec.strategy.canary?.steps?.length ?? 0) > 0 ? 'canary' : 'rolling';
}

/** The view of one service. */
export function buildServiceView(input: ViewInputs): ServiceView {
  const { status, traffic, spec } = input;
  const strategy = strategyOf(input.service, spec);
  const steps = strategy === 'canary' ? (spec?.strategy.canary?.steps?.length ?? 0) : 0;
  const stable = status?.stableRevision;
  const canary = status?.canaryRevision !== stable ? status?.canaryRevision : undefined;
  const inProgress = canary !== undefined;
  const names = new Set<string>([...(stable ? [stable] : []), ...(canary ? [canary] : []), ...input.instances.map((i) => i.revision)]);
  const revisions: RevisionLiveView[] = [];
  for (const name of names) {
    const stored = input.revisions.find((r) => r.name === name);
    const mine = input.instances.filter((i) => i.revision === name && i.state !== 'stopped');
    const role: RevisionRole = name === stable ? 'stable' : name === canary ? (strategy === 'blueGreen' ? 'preview' : 'canary') : 'old';
    let weight = 0;
    if (traffic) {
      const trafficCanary = traffic.canaryRevision !== traffic.stableRevision ? traffic.canaryRevision : undefined;
      if (name === traffic.stableRevision) weight = trafficCanary ? 100 - traffic.canaryWeight : 100;
      else if (name === trafficCanary) weight = traffic.canaryWeight;
    }
    if (traffic && !spec?.strategy.canary?.trafficRouting && !spec?.strategy.blueGreen && canary) {
      // Instance-proportional split (rolling update): show what the router really does.
      const ready = (r: string) => input.instances.filter((i) => i.revision === r && i.state === 'ready').length;
      const total = ready(stable ?? '') + ready(canary);
      const canaryShare = total === 0 ? 0 : Math.round((100 * ready(canary)) / total);
      weight = name === canary ? canaryShare : name === stable ? 100 - canaryShare : 0;
    }
    const s = input.stats(name);
    // `failed` counts each failed request once (a 502 is not also an upstream error on top).
    const errors = s.failed;
    revisions.push({
      name,
      number: stored?.number ?? 0,
      role,
      weight,
      ready: mine.filter((i) => i.state === 'ready').length,
      total: mine.filter((i) => i.state !== 'stopping').length,
      requestsPerSecond: s.requestsPerSecond,
      errorRate: s.requests === 0 ? 0 : errors / s.requests,
      p99Ms: s.requests === 0 ? null : s.latencyMs.p99,
      fallbacks: s.fallbacks,
      instances: mine.map(instanceView),
    });
  }
  const order: Record<RevisionRole, number> = { stable: 0, active: 0, canary: 1, preview: 1, old: 2 };
  revisions.sort((a, b) => order[a.role] - order[b.role]);
  const phase = status?.phase ?? 'Progressing';
  const stepNow = inProgress && steps > 0 ? Math.min((status?.currentStepIndex ?? 0) + 1, steps) : 0;
  const pauseReasons = (status?.pauseConditions ?? []).map((p) => p.reason);
  const routes = inProgress && traffic ? activeRoutes(traffic) : [];
  return {
    name: input.service.name,
    kind: 'service',
    phase,
    strategy,
    step: stepNow,
    steps,
    message: timedPauseMessage(spec, status, steps) ?? status?.message ?? describePhase(phase, inProgress, pauseReasons),
    revisions,
    analysis: [
      ...(input.guard && inProgress ? [{ name: 'guard', phase: input.guard.verdict, message: input.guard.reason }] : []),
      ...(status?.analysisRuns ?? []).map((a) => ({ name: a.name, phase: a.phase, ...(a.message ? { message: a.message } : {}) })),
    ],
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

function describePhase(phase: ServiceView['phase'], inProgress: boolean, pauses: string[]): string {
  if (phase === 'Paused') return pauses.includes('UserPause') ? 'paused by an operator: resume to go on' : 'paused: promote to go on';
  if (phase === 'Degraded') return 'degraded: traffic is on stable';
  if (phase === 'Healthy') return 'healthy';
  return inProgress ? 'rolling out' : 'starting';
}
