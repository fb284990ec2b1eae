/**
 * A `targets` service: addresses graylane routes to but does not run. It has no rollout: its
 * targets are watched (readiness) and routed, and its status says Healthy on its one revision.
 */
import type { AppService } from '../../documents/schema.js';
import { staticServiceStatus } from '../../engine/index.js';
import type { InstanceInfo, Runtime } from '../../runtime/runtime.js';
import type { StaticTemplate } from '../../runtime/static/static-runtime.js';
import type { Store } from '../../state/store.js';

/** Options of {@link reconcileStatic}. */
export interface ReconcileStaticOptions {
  /** Where the status and traffic are committed. */
  store: Store;
  /** Watches the targets. */
  runtime: Runtime<StaticTemplate>;
  /** Service name. */
  name: string;
  /** Its App service document. */
  spec: AppService;
  /** The revision applied. */
  revision: string;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Takes a target out of the route table and waits for its drain. */
  unroute: (info: InstanceInfo) => Promise<void>;
}

/** Watches the applied targets (the stale ones drained and dropped) and commits the status when it changed. */
export async function reconcileStatic(options: ReconcileStaticOptions): Promise<void> {
  const { store, runtime, name, revision } = options;
  const template: StaticTemplate = { targets: options.spec.targets ?? [] };
  const stale = runtime.listInstances({ service: name }).filter((i) => i.revision !== revision);
  await Promise.all(stale.map((i) => runtime.stopInstance({ id: i.id, beforeStop: (info) => options.unroute(info) })));
  await runtime.ensureInstances({ service: name, revision, template, replicas: template.targets.length });
  const { status, traffic } = staticServiceStatus({ revision, now: options.nowMs() });
  if (JSON.stringify(store.getTraffic(name)) !== JSON.stringify(traffic)) store.commit({ service: name, status, traffic });
}
