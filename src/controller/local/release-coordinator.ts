/**
 * Drives releases over their members' engines: opens gates for all members at once, aborts all
 * when one fails, keeps old revisions for pinned clients through the skew window, and tells the
 * router who is in which release (the version-pinning table).
 */
import { randomBytes } from 'node:crypto';
import type { Operation as EngineOperation, RolloutStatus, StartAnalysisAction } from '../../engine/index.js';
import type { App, Release } from '../../documents/schema.js';
import type { Store } from '../../state/store.js';
import type { ReleaseTrafficView, ServiceView } from '../view-model.js';
import { ControlPlaneError } from '../control-plane.js';
import type { ReleaseRoute } from '../../router/contract/index.js';
import { decideGate, DEFAULT_PINNING, releaseWeight, skewWindowMs, type ReleaseState } from '../../engine/release/releases.js';

/** What the coordinator needs of the controller. */
export interface ReleaseHost {
  /** The applied App. */
  app(): App | undefined;
  /** A member's committed status. */
  status(service: string): RolloutStatus | undefined;
  /** Applies an engine operation to a member (commit, then act). */
  operate(service: string, op: EngineOperation, why: string): void;
  /** Starts an analysis run for the release gate. */
  startAnalysis(service: string, action: StartAnalysisAction, stableRevision: string | undefined): void;
  /** Phase of a run, if it exists. */
  analysisPhase(service: string, name: string): string | undefined;
  /** Stops a run. */
  stopAnalysis(name: string): void;
  /** Wall-clock ms of the last request pinned to the old side, from the router. */
  lastPinnedStableMs(release: string): number | undefined;
  /** Page loads and requests per side over the last `windowMs`, from the router. */
  releaseTraffic?(release: string, windowMs: number): Omit<ReleaseTrafficView, 'weight'>;
  /** Lets an old revision go now (its scale-down delay ends). */
  retireOld(service: string, revision: string): void;
  /** Records an event. */
  event(service: string, level: 'info' | 'warning' | 'error', reason: string, message: string): void;
  /** Clock. */
  nowMs(): number;
  /** The release's state changed (its view may have). */
  changed(release: string): void;
}

/** An operation a person applies to a whole release. */
export type ReleaseOperation =
  | { type: 'promote' | 'promoteFull' | 'abort' | 'pause' | 'resume' | 'retry' }
  | { type: 'setWeight'; weight: number };

const KEY = (name: string) => `release/${name}`;
/** The window of the realized share `status` shows beside a release's weight. */
export const RELEASE_TRAFFIC_WINDOW_MS = 30_000;
/** After promotion, old revisions go early once no pinned client has used them for this long. */
const IDLE_PINNED_MS = 15_000;

/** Release orchestration; one instance per controller. */
export class ReleaseCoordinator {
  constructor(
    private readonly store: Store,
    private readonly host: ReleaseHost,
  ) {}

  /** The release definitions of the applied App. */
  releases(): Release[] {
    return this.host.app()?.spec.releases ?? [];
  }

  /** A release by name. */
  find(name: string): Release | undefined {
    return this.releases().find((r) => r.name === name);
  }

  /** The persisted state of a release. */
  state(name: string): ReleaseState | undefined {
    const raw = this.store.getSetting(KEY(name));
    return raw ? (JSON.parse(raw) as ReleaseState) : undefined;
  }

  private save(state: ReleaseState): void {
    const text = JSON.stringify(state);
    // A release's view changes with its state (phase, step, message): watchers hear of it.
    if (this.store.getSetting(KEY(state.name)) === text) return;
    this.store.setSetting(KEY(state.name), text);
    this.host.changed(state.name);
  }

  /** One pass over a release: start, gate, abort, finish, retire. Idempotent. */
  tick(release: Release): void {
    const now = this.host.nowMs();
    const statuses = release.services.map((s) => ({ service: s, status: this.host.status(s) }));
    const rollingOut = statuses.filter((m) => m.status?.stableRevision && m.status.canaryRevision && m.status.canaryRevision !== m.status.stableRevision);
    let state = this.state(release.name);

    // Step 1: a new attempt starts when members are rolled out to revisions the release does not
    // know. Members changed by the same apply join the attempt while it has not passed a gate yet.
    if (!state) {
      // Clients get a token even between releases, so that those who loaded a page before a
      // release starts are known to be on the (then current, now stable) version.
      state = { name: release.name, generation: 'g0', phase: 'idle', stepIndex: 0, members: [], secret: randomBytes(24).toString('base64url'), message: 'no release under way' };
      this.save(state);
    }
    const current = state;
    // A member still aborted from an earlier attempt stays out of a new one: only a new revision
    // (or a retry) brings it back. Otherwise its old abort would abort the new attempt at once.
    const unknown = rollingOut.filter((m) => !m.status!.abort && !current.members.some((x) => x.service === m.service && x.to === m.status!.canaryRevision));
    if (unknown.length > 0) {
      const joins = current.phase === 'progressing' && current.gateOpenedAtMs === undefined && current.stepIndex === 0 && unknown.every((u) => !current.members.some((x) => x.service === u.service));
      const added = unknown.map((m) => ({ service: m.service, from: m.status!.stableRevision!, to: m.status!.canaryRevision! }));
      if (joins) {
        state = { ...current, members: [...current.members, ...added], message: `releasing ${[...current.members, ...added].map((m) => m.service).join(', ')}` };
      } else {
        // A release still in its skew window is superseded: its old revisions are unreachable now.
        if (current.phase === 'promoted') for (const m of current.members) this.host.retireOld(m.service, m.from);
        const members = rollingOut.filter((m) => !m.status!.abort).map((m) => ({ service: m.service, from: m.status!.stableRevision!, to: m.status!.canaryRevision! }));
        state = { name: release.name, generation: randomBytes(6).toString('base64url'), phase: 'progressing', stepIndex: 0, members, secret: current.secret, message: `releasing ${members.map((m) => m.service).join(', ')}` };
        this.host.event(release.name, 'info', 'ReleaseStarted', `release ${release.name} started for ${members.map((m) => `${m.service} → ${m.to}`).join(', ')}`);
      }
      this.save(state);
    }

    if (state.phase === 'progressing') {
      // Only this attempt's members count: a service outside it (or still on an older abort) neither
      // holds a gate nor aborts the release.
      const changing = this.active(state);
      // Step 2: one member aborted (by a person, the guard or its progress deadline): all go back.
      const aborted = changing.find((m) => m.status.abort);
      if (aborted) {
        for (const m of changing) if (!m.status.abort) this.host.operate(m.service, { type: 'abort' }, `release ${release.name} aborted: ${aborted.service} failed`);
        if (state.analysisRun) this.host.stopAnalysis(state.analysisRun);
        this.save({ ...state, phase: 'aborted', paused: false, message: `aborted: ${aborted.service} failed (${aborted.status.message ?? 'aborted'}); every member is back on stable` });
        this.host.event(release.name, 'warning', 'ReleaseAborted', `release ${release.name} aborted because ${aborted.service} failed; all members back on stable`);
        return;
      }
      // Step 3: every member done: promoted, old revisions kept for pinned clients.
      if (changing.length === 0) {
        const skewUntilMs = now + skewWindowMs(release);
        this.save({ ...state, phase: 'promoted', skewUntilMs, message: `promoted; clients pinned to the old version keep it until ${new Date(skewUntilMs).toISOString()} or until they go quiet` });
        this.host.event(release.name, 'info', 'ReleasePromoted', `release ${release.name} promoted; skew window until ${new Date(skewUntilMs).toISOString()}`);
        return;
      }
      // Step 4: a person's pause holds the release where it is: no gate opens, however long it waited.
      if (state.paused) {
        this.save({ ...state, message: `paused by operator at step ${state.stepIndex + 1}: \`graylane resume ${release.name}\` or \`graylane promote ${release.name}\` to go on` });
        return;
      }
      // Step 5: a gate opens only when every changed member waits at it.
      const atGate = changing.every((m) => m.status.phase === 'Paused' && m.status.currentStepIndex === changing[0]!.status.currentStepIndex && m.status.pauseConditions.some((p) => p.reason === 'CanaryPauseStep'));
      if (!atGate) {
        this.save({ ...state, stepIndex: Math.min(...changing.map((m) => m.status.currentStepIndex)), message: `rolling out ${changing.map((m) => `${m.service} ${m.status.weights.canary}%`).join(', ')}` });
        return;
      }
      const stepIndex = changing[0]!.status.currentStepIndex;
      if (state.stepIndex !== stepIndex || state.gateOpenedAtMs === undefined) {
        state = { ...state, stepIndex, gateOpenedAtMs: now, gatePromoted: false, analysisRun: undefined };
      }
      const runName = `${release.name}.${state.generation}.step-${stepIndex}`;
      const analysisPhase = state.analysisRun ? this.host.analysisPhase(changing[0]!.service, state.analysisRun) : undefined;
      const decision = decideGate(release, state, now, analysisPhase);
      if (decision.type === 'startAnalysis') {
        this.host.startAnalysis(changing[0]!.service, { type: 'startAnalysis', name: runName, kind: 'step', analysis: decision.step, revision: changing[0]!.status.canaryRevision! }, changing[0]!.status.stableRevision);
        this.save({ ...state, analysisRun: runName, message: `analysis at step ${stepIndex + 1}` });
        return;
      }
      if (decision.type === 'wait') {
        if (analysisPhase === 'Failed' || analysisPhase === 'Error') {
          for (const m of changing) this.host.operate(m.service, { type: 'abort' }, `release ${release.name}: analysis ${analysisPhase}`);
          this.save({ ...state, phase: 'aborted', paused: false, message: `aborted: analysis at step ${stepIndex + 1} ${analysisPhase}` });
          this.host.event(release.name, 'warning', 'ReleaseAborted', `release ${release.name} aborted: analysis ${analysisPhase}`);
          return;
        }
        this.save({ ...state, message: decision.reason });
        return;
      }
      for (const m of changing) this.host.operate(m.service, { type: 'promote' }, `release ${release.name} gate ${stepIndex + 1} opened`);
      this.save({ ...state, gateOpenedAtMs: undefined, gatePromoted: false, analysisRun: undefined, message: `gate ${stepIndex + 1} passed` });
      return;
    }

    if (state.phase === 'promoted') {
      // Step 6: the skew window ends, or pinned clients of the old version went quiet.
      const lastPinned = this.host.lastPinnedStableMs(release.name) ?? 0;
      const quiet = now - Math.max(lastPinned, (state.skewUntilMs ?? now) - skewWindowMs(release)) > IDLE_PINNED_MS;
      if (now >= (state.skewUntilMs ?? 0) || quiet) {
        for (const m of state.members) this.host.retireOld(m.service, m.from);
        this.save({ ...state, phase: 'idle', message: 'released; old revisions retired' });
        this.host.event(release.name, 'info', 'ReleaseCompleted', `release ${release.name} complete: old revisions retired (${quiet ? 'no pinned clients left' : 'skew window over'})`);
      }
    }
  }

  /** The members of the attempt in force that are still on its revisions, with their statuses. */
  private active(state: ReleaseState): { service: string; status: RolloutStatus }[] {
    return state.members.flatMap((m) => {
      const status = this.host.status(m.service);
      return status && status.canaryRevision === m.to && status.canaryRevision !== status.stableRevision ? [{ service: m.service, status }] : [];
    });
  }

  /**
   * The release that moves a service now: an attempt in progress (or aborted, until retried or
   * replaced) whose member it is. Operations on the service alone would split the release.
   */
  holder(service: string): Release | undefined {
    for (const release of this.releases()) {
      if (!release.services.includes(service)) continue;
      const state = this.state(release.name);
      if (state?.phase !== 'progressing' && state?.phase !== 'aborted') continue;
      if (this.active(state).some((m) => m.service === service)) return release;
    }
    return undefined;
  }

  /**
   * A person's operation on the release, applied to every member of the attempt at once. Throws
   * ControlPlaneError InvalidOperation when it makes no sense now.
   */
  operate(name: string, op: ReleaseOperation): void {
    const state = this.state(name);
    const members = state && (state.phase === 'progressing' || state.phase === 'aborted') ? this.active(state) : [];
    const refuse = (why: string) => new ControlPlaneError('InvalidOperation', why);
    const what = op.type === 'promoteFull' ? 'promote' : op.type === 'setWeight' ? 'set the weight of' : op.type;
    if (!state || members.length === 0) throw refuse(`nothing to ${what}: release ${name} has no rollout in progress`);
    const why = `release ${name}: ${op.type === 'promoteFull' ? 'promote --full' : op.type} by operator`;
    if (op.type === 'retry') {
      if (state.phase !== 'aborted') throw refuse(`release ${name} is not aborted: only an aborted release can be retried`);
      for (const m of members) this.host.operate(m.service, { type: 'retry' }, why);
      this.save({ ...state, generation: randomBytes(6).toString('base64url'), phase: 'progressing', stepIndex: 0, gateOpenedAtMs: undefined, gatePromoted: false, analysisRun: undefined, paused: false, message: `retrying ${members.map((m) => m.service).join(', ')}` });
      return;
    }
    if (state.phase === 'aborted') throw refuse(`release ${name} is aborted: \`graylane retry ${name}\` to run it again, or apply a new revision`);
    switch (op.type) {
      case 'pause':
        if (state.paused) throw refuse(`release ${name} is already paused`);
        // Members hold too, so that none moves on to its next weight between gates.
        for (const m of members) this.host.operate(m.service, { type: 'pause' }, why);
        this.save({ ...state, paused: true, message: `paused by operator at step ${state.stepIndex + 1}: \`graylane resume ${name}\` or \`graylane promote ${name}\` to go on` });
        return;
      case 'resume':
        if (!state.paused) throw refuse(`release ${name} was not paused by a person (\`graylane promote ${name}\` passes a pause step)`);
        this.resumeMembers(members, why);
        this.save({ ...state, paused: false, message: `resumed at step ${state.stepIndex + 1}` });
        return;
      case 'promote':
        this.resumeMembers(members, why);
        this.save({ ...state, paused: false, gatePromoted: true });
        return;
      case 'promoteFull':
      case 'abort':
        for (const m of members) this.host.operate(m.service, { type: op.type }, why);
        if (op.type === 'abort') this.save({ ...state, phase: 'aborted', paused: false, message: 'aborted by operator; every member is back on stable' });
        else this.save({ ...state, paused: false });
        return;
      case 'setWeight':
        for (const m of members) this.host.operate(m.service, { type: 'setWeight', weight: op.weight }, why);
        this.save({ ...state, message: `weight set to ${op.weight}% by hand at step ${state.stepIndex + 1}; holds until the next gate opens` });
        return;
    }
  }

  private resumeMembers(members: { service: string; status: RolloutStatus }[], why: string): void {
    for (const m of members) if (m.status.pauseConditions.some((p) => p.reason === 'UserPause')) this.host.operate(m.service, { type: 'resume' }, why);
  }

  /** The pinning table for the router: releases under way or within their skew window. */
  routes(): ReleaseRoute[] {
    const out: ReleaseRoute[] = [];
    for (const release of this.releases()) {
      const state = this.state(release.name);
      const phase = state?.phase ?? 'idle';
      const base = {
        name: release.name,
        services: release.services,
        generation: state?.generation ?? 'initial',
        cookie: release.pinning?.cookie ?? DEFAULT_PINNING.cookie,
        header: release.pinning?.header ?? DEFAULT_PINNING.header,
        secret: state?.secret ?? '',
        ...(release.pinning?.allowForceHeader ? { allowForceHeader: true } : {}),
        ...(release.pinning?.assetPattern ? { assetPattern: release.pinning.assetPattern } : {}),
      };
      if (!state) continue;
      if (phase === 'idle') out.push({ ...base, phase: 'progressing', canaryWeight: 0 });
      else if (phase === 'progressing') out.push({ ...base, phase: 'progressing', canaryWeight: releaseWeight(this.active(state).map((m) => m.status)) });
      else if (phase === 'aborted') out.push({ ...base, phase: 'aborted', canaryWeight: 0 });
      else if (phase === 'promoted') out.push({ ...base, phase: 'promoted', canaryWeight: 100, ...(state?.skewUntilMs ? { skewUntilMs: state.skewUntilMs } : {}) });
    }
    return out;
  }

  /** During the skew window a member's route keeps the old revision as its stable side. */
  pinnedRevisions(service: string): { stable: string; canary: string } | undefined {
    for (const release of this.releases()) {
      if (!release.services.includes(service)) continue;
      const state = this.state(release.name);
      const m = state?.members.find((x) => x.service === service);
      if (state?.phase === 'promoted' && m) return { stable: m.from, canary: m.to };
      // A member that finished before the others: until the release is promoted, clients whose
      // pages are on the old version still need its old revision (the release decides the sides).
      if (state?.phase === 'progressing' && m && this.host.status(service)?.stableRevision === m.to) return { stable: m.from, canary: m.to };
    }
    return undefined;
  }

  /** The release as everyone shows it: one row per member revision. */
  view(name: string, memberView: (service: string) => ServiceView): ServiceView {
    const release = this.find(name)!;
    const state = this.state(name);
    const views = release.services.map(memberView);
    const steps = release.strategy.canary?.steps?.length ?? 0;
    const phase: ServiceView['phase'] = state?.phase === 'aborted' ? 'Degraded'
      : (state?.phase === 'progressing' && state.paused) || views.some((v) => v.phase === 'Paused') ? 'Paused'
        : views.some((v) => v.phase === 'Progressing') ? 'Progressing'
          : views.every((v) => v.phase === 'Healthy') ? 'Healthy'
            : views.every((v) => v.phase === 'Healthy' || v.phase === 'Completed') ? 'Completed' : 'Progressing';
    const inProgress = state?.phase === 'progressing';
    const route = this.routes().find((r) => r.name === name);
    const traffic = route && this.host.releaseTraffic?.(name, RELEASE_TRAFFIC_WINDOW_MS);
    return {
      name,
      kind: 'release',
      phase,
      strategy: 'canary',
      step: inProgress ? Math.min(state.stepIndex + 1, steps) : 0,
      steps,
      message: state?.message ?? 'no release yet: apply a change to a member',
      revisions: views.flatMap((v) => v.revisions.map((r) => ({ ...r, name: `${v.name} ${r.name}`, member: v.name }))),
      analysis: views.flatMap((v) => v.analysis.map((a) => ({ ...a, name: `${v.name}/${a.name}` }))),
      aborted: state?.phase === 'aborted',
      pauseReasons: [...new Set(views.flatMap((v) => v.pauseReasons))],
      ...(views.some((v) => v.routes) ? { routes: views.flatMap((v) => (v.routes ?? []).map((r) => ({ ...r, name: `${v.name}/${r.name}`, description: `${v.name}: ${r.description}` }))) } : {}),
      ...(route && traffic ? { releaseTraffic: { weight: route.canaryWeight, ...traffic } } : {}),
    };
  }
}
