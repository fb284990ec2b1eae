/**
 * Whose Rollouts a controller reconciles: graylane's own (`graylane.dev/v1alpha1`), or Argo
 * Rollouts' (`argoproj.io/v1alpha1`, `graylane controller --argo-rollouts`), which graylane then
 * runs in place of Argo's controller. Everything that names the Rollout's API (the informer, the
 * status writes, the Events' involved object, the ReplicaSets' owner) takes it from here.
 */
import { ARGO_API_VERSION, GRAYLANE_API_VERSION } from './names.js';

/** See the file comment. */
export type RolloutFlavour = 'graylane' | 'argo';

/** The apiVersion of a flavour's Rollouts. */
export function rolloutApiVersion(flavour: RolloutFlavour): string {
  return flavour === 'argo' ? ARGO_API_VERSION : GRAYLANE_API_VERSION;
}

/** The group and version of a flavour's Rollouts, for the custom-objects API. */
export function rolloutGroupVersion(flavour: RolloutFlavour): { group: string; version: string } {
  const [group, version] = rolloutApiVersion(flavour).split('/') as [string, string];
  return { group, version };
}
