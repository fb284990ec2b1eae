/**
 * What the single host knows of its services, read from the store: the applied App, each
 * service's rollout spec as the engine sees it, and each service's (and release's) view, sent
 * to watchers whenever it changes.
 */
import { rolloutFromAppService } from '../../documents/index.js';
import type { App, AppService, RolloutSpec } from '../../documents/schema.js';
import { memberSpec, releaseOf } from '../../engine/release/releases.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Store, StoredService } from '../../state/store.js';
import { ControlPlaneError } from '../control-plane.js';
import type { GuardLoop } from '../core/guard-loop.js';
import type { ServiceView } from '../view-model.js';
import type { LocalEventLog } from './event-log.js';
import type { ReleaseCoordinator } from './release-coordinator.js';
import { buildServiceView } from './views.js';

/** Options of {@link LocalModel}. */
export interface LocalModelOptions {
  /** Committed services, statuses, revisions. */
  store: Store;
  /** The runtime that runs a service. */
  runtimeOf: (spec: AppService) => Runtime<unknown>;
  /** The router's figures. */
  router: RouterControl;
  /** The guard's verdicts. */
  guard: () => Pick<GuardLoop, 'verdict'>;
  /** The releases. */
  releases: () => ReleaseCoordinator;
  /** Watchers, and the store's write health. */
  events: LocalEventLog;
  /** Whether a service's committed traffic is in force on the data plane. */
  routeInForce: (service: string) => boolean;
}

/** See the file's comment. */
export class LocalModel {
  constructor(private readonly options: LocalModelOptions) {}

  /** The applied App. */
  app(): App | undefined {
    return this.options.store.getApp()?.app;
  }

  /** A service's rollout spec as the engine sees it; a release's members get the release's. */
  rolloutSpec(spec: AppService): RolloutSpec {
    const own = rolloutFromAppService({ apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'app' }, spec: { services: [spec] } }, spec);
    const release = releaseOf(this.app(), spec.name);
    return release ? memberSpec(release, own) : own;
  }

  /** A stored service's rollout spec; none for a targets service. */
  specOf(svc: StoredService): RolloutSpec | undefined {
    const spec = svc.spec as AppService;
    return spec.targets ? undefined : this.rolloutSpec(spec);
  }

  /** A service by name; throws ControlPlaneError NotFound naming the ones there are. */
  requireService(name: string): StoredService {
    const { store } = this.options;
    const svc = store.getService(name);
    if (svc) return svc;
    const known = store.listServices().map((s) => s.name);
    throw new ControlPlaneError('NotFound', `no service "${name}"${known.length ? `; services: ${known.join(', ')}` : '; apply an App file first'}`);
  }

  /** A service's view. */
  view(name: string): ServiceView {
    const { store, router, events } = this.options;
    const svc = store.getService(name)!;
    const spec = svc.spec as AppService;
    return buildServiceView({
      service: spec, spec: this.specOf(svc), status: store.getStatus(name), traffic: store.getTraffic(name),
      revisions: store.listRevisions(name), instances: this.options.runtimeOf(spec).listInstances({ service: name }),
      stats: (revision) => router.stats({ service: name, revision, windowMs: 10_000 }),
      desiredRevision: svc.desiredRevision, guard: this.options.guard().verdict(name), stateWrites: events.health.fault, version: store.getStatusVersion(name),
      routePending: !this.options.routeInForce(name),
    });
  }

  /** A service's or a release's view; throws ControlPlaneError NotFound. */
  get(name: string): ServiceView {
    const releases = this.options.releases();
    if (releases.find(name)) return releases.view(name, (s) => this.view(s));
    this.requireService(name);
    return this.view(name);
  }

  /** Every release's and service's view. */
  list(): ServiceView[] {
    const releases = this.options.releases();
    return [...releases.releases().map((r) => releases.view(r.name, (s) => this.view(s))), ...this.options.store.listServices().map((s) => this.view(s.name))];
  }

  /** Every view goes out again (the store's write health changed). */
  notifyViews(): void {
    if (!this.options.events.watched) return;
    for (const r of this.options.releases().releases()) this.notifyReleaseView(r.name);
    for (const s of this.options.store.listServices()) this.options.events.notify({ view: this.view(s.name) });
  }

  /** A service's view changed: it goes out, and so does its release's, which is made of it. */
  notifyView(name: string): void {
    if (!this.options.events.watched || !this.options.store.getService(name)) return;
    this.options.events.notify({ view: this.view(name) });
    const release = releaseOf(this.app(), name);
    if (release) this.notifyReleaseView(release.name);
  }

  /** A release's view changed. */
  notifyReleaseView(name: string): void {
    const releases = this.options.releases();
    if (this.options.events.watched && releases.find(name)) this.options.events.notify({ view: releases.view(name, (s) => this.view(s)) });
  }
}
