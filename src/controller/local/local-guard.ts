/**
 * The guard on a single host: the core guard loop judging canaries from the router's counters,
 * and what an abort it decides does here. When the abort cannot be committed (a full disk),
 * traffic goes back to stable at once all the same and the commit is retried: a broken canary
 * must not keep its users because the state directory is full. A crash before the commit lands
 * loses only the abort, which the guard decides again from fresh traffic.
 */
import { OperationError } from '../../engine/index.js';
import type { RouterControl } from '../../router/control/router-control.js';
import { DEFAULT_NAMESPACE } from '../../state/state-port.js';
import type { Store, StoredService } from '../../state/store.js';
import { isWriteFailure } from '../../state/write-guard.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { GuardLoop } from '../core/guard-loop.js';
import type { Reconciler } from '../core/reconciler.js';

/** Options of {@link createLocalGuard}. */
export interface LocalGuardOptions {
  /** Committed services and statuses; where verdicts are kept. */
  store: Store;
  /** The router's counters. */
  router: RouterControl;
  /** The reconciler that commits and acts on the abort. */
  reconciler: () => Reconciler;
  /** A stored service's rollout spec (none for targets). */
  specOf: (svc: StoredService) => RolloutSpec | undefined;
  /** Runs fn holding the service's key in the work queue. */
  run: (service: string, fn: () => Promise<void>) => Promise<void>;
  /** Puts a service's route in force again (an abort held or released). */
  reroute: (service: string) => void;
  /** An abort that failed for another reason than a write, as an event. */
  reportFailure: (service: string, reason: string, err: unknown) => void;
  /** How often the loop ticks. */
  tickMs: number;
  /** Clock, epoch ms. */
  nowMs: () => number;
}

/** The guard loop with its single-host abort. */
export function createLocalGuard(options: LocalGuardOptions): GuardLoop {
  const { store, router } = options;
  const guard: GuardLoop = new GuardLoop({
    counters: { totals: (q) => router.totals(q), recentLatency: (q) => router.recentLatency(q) },
    candidates: () => store.listServices().map((svc) => ({ service: svc.name, strategy: options.specOf(svc)?.strategy.canary, status: store.getStatus(svc.name) })),
    abort: (service, reason) => {
      options.run(service, () => abort(service, reason)).catch((err: unknown) => options.reportFailure(service, 'GuardAbortFailed', err));
    },
    tickMs: options.tickMs,
    nowMs: options.nowMs,
  });

  async function abort(service: string, reason: string): Promise<void> {
    const status = store.getStatus(service);
    if (!store.getService(service) || !status || status.abort) {
      if (guard.releaseAbort(service)) options.reroute(service);
      return;
    }
    try {
      await options.reconciler().operate({ namespace: DEFAULT_NAMESPACE, name: service }, { type: 'guardAbort', reason });
    } catch (err) {
      if (err instanceof OperationError) return;
      if (isWriteFailure(err) && guard.holdAbort(service, reason)) options.reroute(service);
      throw err;
    }
    if (guard.releaseAbort(service)) options.reroute(service);
    recordVerdict(service);
  }

  /** Keeps the guard's failing verdict with the analysis runs, so `graylane analysis` shows it after a restart too. */
  function recordVerdict(service: string): void {
    const entry = guard.entry(service);
    if (!entry) return;
    const { id, name, phase, startedAtMs, metrics, message, kind, guard: judged } = entry;
    try {
      store.putAnalysisRun({ id, service, name, phase, run: { metrics, message, kind, guard: judged }, startedAtMs, updatedAtMs: options.nowMs() });
    } catch (err) {
      // The abort is committed; only its record is missing, and the live entry still shows it.
      if (!isWriteFailure(err)) throw err;
    }
  }

  return guard;
}
