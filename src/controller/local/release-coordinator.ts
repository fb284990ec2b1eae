/**
 * Drives releases over their members' engines: opens gates for all members at once, aborts all
 * when one fails, keeps old revisions for pinned clients through the skew window, and tells the
 * router who is in which release (the version-pinning table).
 */
import { randomBytes } from 'node:crypto';
import type { RolloutStatus, UserOperation } from '../../engine/index.js';
import type { App, Release } from '../../documents/schema.js';
import type { Store } from '../../state/store.js';
import { buildReleaseView, type ReleaseTrafficView, type ServiceView } from '../../view/index.js';
import { ControlPlaneError } from '../control-plane.js';
import type { ReleaseRoute } from '../../router/contract/index.js';
import { DEFAULT_PINNING, releasePageWeight, type ReleaseState } from '../../engine/release/releases.js';
import { activeMembers } from '../../engine/release/decide.js';
import { ReleaseOperationError } from '../../engine/release/operate.js';
import { ReleaseLoop, type ReleaseLoopHost } from '../core/release-loop.js';
import { createSqliteState } from '../../state/sqlite/sqlite-state.js';
import { DEFAULT_NAMESPACE } from '../../state/state-port.js';

/** A new attempt's generation and a new release's token secret. */
function freshRandom(): { generation: string; secret: string } {
  return { generation: randomBytes(6).toString('base64url'), secret: randomBytes(24).toString('base64url') };
}

/** What the coordinator needs of the controller: the release loop's host (randomness is its own), and the App and figures. */
export interface ReleaseHost extends Omit<ReleaseLoopHost, 'random'> {
  /** The applied App. */
  app(): App | undefined;
  /** Page loads and requests per side, and skew errors, over the last `windowMs`, from the router. */
  releaseTraffic?(release: string, windowMs: number): Omit<ReleaseTrafficView, 'weight'>;
}

/** The window of the realized share `status` shows beside a release's weight. */
export const RELEASE_TRAFFIC_WINDOW_MS = 30_000;

/** Release orchestration; one instance per controller. */
export class ReleaseCoordinator {
  private readonly loop: ReleaseLoop;

  constructor(
    private readonly store: Store,
    private readonly host: ReleaseHost,
  ) {
    // The same SQLite rows `state` reads, committed with versions through the state port.
    this.loop = new ReleaseLoop({ state: createSqliteState({ store }), namespace: DEFAULT_NAMESPACE, host: { ...host, random: freshRandom } });
  }

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
    return this.store.getRelease(name);
  }

  /** One pass over a release: start, gate, abort, finish, retire. Idempotent. */
  tick(release: Release): Promise<void> {
    return this.loop.tick(release);
  }

  /** The members of the attempt in force that are still on its revisions, with their statuses. */
  private active(state: ReleaseState): { service: string; status: RolloutStatus }[] {
    return activeMembers(state, state.members.map((m) => ({ service: m.service, status: this.host.status(m.service) })));
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
   * A person's operation on the release, applied to every member of the attempt at once (decided
   * purely, committed, then carried out by the release loop). Rejects with ControlPlaneError
   * InvalidOperation when it makes no sense now.
   */
  async operate(release: Release, op: UserOperation): Promise<void> {
    try {
      await this.loop.operate(release, op);
    } catch (err) {
      if (err instanceof ReleaseOperationError) throw new ControlPlaneError('InvalidOperation', err.message);
      throw err;
    }
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
      // A release that ended (promoted, its skew window over) routes every page and every pinned
      // request to the one version left, as 'promoted' with no skew window does. A page recorded
      // on 'stable' would not do: a router worker still on the table before would send its API
      // calls to the old revision while the skew window lasted there.
      if (phase === 'idle' && state.skewUntilMs !== undefined) out.push({ ...base, phase: 'promoted', canaryWeight: 100 });
      else if (phase === 'idle') out.push({ ...base, phase: 'progressing', canaryWeight: 0 });
      else if (phase === 'progressing') out.push({ ...base, phase: 'progressing', canaryWeight: this.pageWeight(release) });
      else if (phase === 'aborted') out.push({ ...base, phase: 'aborted', canaryWeight: 0, ...(state.abortGraceUntilMs ? { abortGraceUntilMs: state.abortGraceUntilMs } : {}) });
      else if (phase === 'promoted') out.push({ ...base, phase: 'promoted', canaryWeight: 100, ...(state?.skewUntilMs ? { skewUntilMs: state.skewUntilMs } : {}) });
    }
    return out;
  }

  /** The weight page loads of a release in progress get (see {@link releasePageWeight}). */
  private pageWeight(release: Release): number {
    return releasePageWeight(release.services.map((service) => ({ status: this.host.status(service), desiredRevision: this.store.getService(service)?.desiredRevision })));
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

  /** The release as everyone shows it: its state, its members' own views and the share served. */
  view(name: string, memberView: (service: string) => ServiceView): ServiceView {
    const release = this.find(name)!;
    const route = this.routes().find((r) => r.name === name);
    const traffic = route && this.host.releaseTraffic?.(name, RELEASE_TRAFFIC_WINDOW_MS);
    return buildReleaseView({
      name,
      steps: release.strategy.canary?.steps?.length ?? 0,
      state: this.state(name),
      members: release.services.map(memberView),
      releaseTraffic: route && traffic ? { weight: route.canaryWeight, ...traffic } : undefined,
      // The built-in router keeps old pages on stable until the route's skewUntilMs.
      pinsOldPages: true,
    });
  }
}
