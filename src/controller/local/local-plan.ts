/**
 * A rollout's plan on the single host, for the console: what `graylane plan` computes from the
 * applied spec (the templates and the guard as the daemon runs them), and where the rollout is on it.
 */
import { guardParamsFromSpec } from '../../analysis/guard-spec.js';
import type { PlanView } from '../../api/contract/index.js';
import type { AppService, Release } from '../../documents/schema.js';
import { planRollout } from '../../engine/index.js';
import type { Store } from '../../state/store.js';
import { planViewOf } from '../../view/plan-view.js';
import { ControlPlaneError } from '../control-plane.js';
import type { LocalModel } from './local-model.js';

/** What {@link localPlan} reads. */
export interface LocalPlanSources {
  /** The applied App, its templates and services. */
  store: Store;
  /** Specs as the engine sees them, and views (the current step). */
  model: Pick<LocalModel, 'get' | 'rolloutSpec'>;
  /** A release by name, if one is so named. */
  release: (name: string) => Release | undefined;
}

/**
 * The plan of a service, or of a release (its members move together, step by step: the first
 * member's plan is the release's). NotFound for an unknown name and for a service that points
 * at targets (it has no rollout).
 */
export function localPlan(sources: LocalPlanSources, name: string): PlanView {
  const { store, model } = sources;
  // The view first: an unknown name is the NotFound the rest of the API answers, with the names there are.
  const view = model.get(name);
  const member = sources.release(name)?.services.find((s) => store.getService(s)) ?? name;
  const spec = store.getService(member)?.spec as AppService | undefined;
  if (!spec || spec.targets) throw new ControlPlaneError('NotFound', `this server has no plan for ${name}: it points at targets that run already, which have no rollout`);
  const rollout = model.rolloutSpec(spec);
  const canary = rollout.strategy.canary;
  // Behind the built-in router the guard judges every canary unless turned off, as `graylane plan` counts it.
  const guard = canary?.trafficRouting ? guardParamsFromSpec(canary.guard) : undefined;
  const plan = planRollout({ spec: rollout, templates: store.getApp()?.templates ?? [], guard });
  return planViewOf(plan, { step: view.step, terminal: view.terminal });
}
