/**
 * An App service seen as a Rollout, so the engine has one model for both places graylane runs.
 */
import type { App, AppService, RolloutSpec, Strategy } from './schema.js';

/** Thrown when an App has no service of the name asked for. */
export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
  readonly code = 'unknown-service';
  constructor(readonly app: string, readonly service: string) {
    super(`App "${app}" has no service "${service}"`);
  }
}

/**
 * The RolloutSpec of one App service: replicas default 1; no strategy means a rolling update
 * (`canary` without steps). A canary with steps gets the built-in router as its traffic routing
 * when it names none, because single-host traffic always goes through graylane's router (and
 * Argo's replica math differs with and without traffic routing).
 */
export function rolloutFromAppService(app: App, service: AppService | string): RolloutSpec {
  const svc = typeof service === 'string' ? app.spec.services.find((s) => s.name === service) : service;
  if (!svc) throw new UnknownServiceError(app.metadata.name, typeof service === 'string' ? service : service.name);
  const strategy: Strategy = structuredClone(svc.strategy ?? { canary: {} });
  if (strategy.canary && (strategy.canary.steps?.length ?? 0) > 0 && !strategy.canary.trafficRouting) {
    strategy.canary.trafficRouting = { builtin: {} };
  }
  const spec: RolloutSpec = { replicas: svc.replicas ?? 1, strategy };
  if (svc.progressDeadlineSeconds !== undefined) spec.progressDeadlineSeconds = svc.progressDeadlineSeconds;
  if (svc.revisionHistoryLimit !== undefined) spec.revisionHistoryLimit = svc.revisionHistoryLimit;
  if (svc.rollbackWindow !== undefined) spec.rollbackWindow = { ...svc.rollbackWindow };
  if (svc.hooks !== undefined) spec.hooks = structuredClone(svc.hooks);
  return spec;
}
