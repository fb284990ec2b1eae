/**
 * The controller core's small ports, implemented over the single host's parts: desired rollouts
 * from the applied App in the store, analysis runs through the local analysis manager, the
 * canary's request counter from the router, events into the local event log.
 */
import type { App, AppService, RolloutSpec } from '../../documents/schema.js';
import { releaseOf } from '../../engine/release/releases.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { Store } from '../../state/store.js';
import type { AnalysisPort, CountersSource, EventSink, SpecSource } from '../core/ports.js';
import type { AnalysisManager } from './analysis-manager.js';
import type { LocalEventLog } from './event-log.js';

/** What the ports read. */
export interface LocalPortsOptions {
  /** Committed services, revisions, runs. */
  store: Store;
  /** The applied App. */
  app: () => App | undefined;
  /** A service's rollout spec as the engine sees it. */
  rolloutSpec: (spec: AppService) => RolloutSpec;
  /** Runs analyses. */
  analyses: AnalysisManager;
  /** The router's counters. */
  router: RouterControl;
  /** The event log. */
  events: LocalEventLog;
  /** A committed pass changed a service's view. */
  viewChanged: (service: string) => void;
}

/** The ports the reconciler works through, over the single host's parts. */
export function localPorts(options: LocalPortsOptions): { specs: SpecSource; analysis: AnalysisPort; counters: CountersSource; events: EventSink } {
  const { store, analyses, router, events } = options;
  return {
    specs: {
      desired: (key) => {
        const svc = store.getService(key.name);
        const spec = svc?.spec as AppService | undefined;
        // A targets service has no rollout: the local controller keeps its instances watched and routed.
        if (!svc || !spec || spec.targets) return Promise.resolve(undefined);
        return Promise.resolve({
          spec: options.rolloutSpec(spec),
          desiredRevision: svc.desiredRevision,
          revisions: store.listRevisions(key.name).map((r) => ({ name: r.name, template: r.template })),
          host: spec.host,
          pathPrefix: spec.pathPrefix,
          // A release's members go back together through its gates, not each at once on its own.
          fastRollback: !releaseOf(options.app(), key.name),
        });
      },
      forgetRevision: (key, revision) => {
        store.deleteRevision(key.name, revision);
        return Promise.resolve();
      },
    },
    analysis: {
      start: (key, { action, stableRevision }) => {
        analyses.start(key.name, action, stableRevision);
        return Promise.resolve();
      },
      stop: (_key, name) => {
        analyses.stop(name);
        return Promise.resolve();
      },
      list: (key) => Promise.resolve(store.listAnalysisRuns(key.name, 20).map((r) => ({ name: r.name, phase: r.phase as 'Error', message: (r.run as { message?: string }).message }))),
    },
    counters: {
      requests: (key, revision) => Promise.resolve(router.totals({ service: key.name, revision }).requests),
    },
    events: {
      committed: (key, recorded) => {
        recorded.forEach((e) => {
          if (e.id !== undefined) events.notify({ event: { id: e.id, service: key.name, atMs: e.atMs, level: e.level, reason: e.reason, message: e.message } });
        });
        options.viewChanged(key.name);
      },
      emit: (key, e) => events.emit(key.name, e.level, e.reason, e.message),
    },
  };
}
