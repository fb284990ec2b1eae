/**
 * A Release's members on a cluster: the Rollouts of its namespace it names in `spec.services`, each
 * run with the release's timeline (the single host's `memberSpec`: every pause and analysis a gate
 * only the release opens, old revisions kept through the skew window) but with its OWN routing
 * (`trafficRouting`, `stableService`, `canaryService`): on a cluster each member has its own
 * Services and routes, where on a single host the built-in router serves them all.
 */
import type { Release, RolloutSpec } from '../../documents/schema.js';
import { memberSpec } from '../../engine/release/releases.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import { NO_ANALYSIS_API } from './unsupported-features.js';

/** The fields of a member's own canary block that stay its own inside a release: where its traffic goes. */
const OWN_ROUTING = ['trafficRouting', 'stableService', 'canaryService'] as const;

/** A member's spec inside a release, or the sentence why it cannot be one. */
export type MemberSpecResult = { spec: RolloutSpec } | { invalid: string };

/** The release definition a Release object carries (its name is the object's). */
export function releaseFromObject(object: ReleaseObject): Release {
  return { name: object.metadata?.name ?? '', ...object.spec };
}

/** The Releases of `namespace` that name the Rollout `name`, oldest first (by name, for a stable choice). */
export function releasesNaming(releases: ObjectCache<ReleaseObject>, namespace: string, name: string): ReleaseObject[] {
  return releases.list({ namespace })
    .filter((r) => Array.isArray(r.spec?.services) && r.spec.services.includes(name))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/**
 * The spec a Rollout runs as a member of `release`. Refused with a sentence: a member that is not
 * a canary (a release's timeline is canary steps), a member on a weight scale other than percent, a
 * release analysis step on a cluster that serves no AnalysisRun API, and explicit `pinning` on a member whose
 * traffic provider cannot pin clients (or cannot pin them together with the release's steps:
 * `pinningIssue`).
 */
export function clusterMemberSpec(options: { release: Release; own: RolloutSpec; canPin: (spec: RolloutSpec) => boolean; pinningIssue?: ((spec: RolloutSpec) => string | undefined) | undefined; analysisServed?: boolean | undefined }): MemberSpecResult {
  const { release, own } = options;
  const where = `member of release "${release.name}"`;
  if (!own.strategy.canary) return { invalid: `spec.strategy: a ${where} rolls out with the release's canary steps; give it a canary strategy (its stableService, canaryService and trafficRouting are used)` };
  const analysisStep = (release.strategy.canary?.steps ?? []).findIndex((s) => 'analysis' in s);
  if (analysisStep >= 0 && options.analysisServed === false) return { invalid: `release "${release.name}" spec.strategy.canary.steps[${analysisStep}].analysis: ${NO_ANALYSIS_API}` };
  const scale = own.strategy.canary.trafficRouting?.maxTrafficWeight;
  if (scale !== undefined && scale !== 100) {
    return { invalid: `spec.strategy.canary.trafficRouting.maxTrafficWeight: a ${where} moves with the release's weights, which are percent; leave maxTrafficWeight out or set it to 100, not ${scale}` };
  }
  const gated = memberSpec(release, own).strategy.canary ?? {};
  const canary: NonNullable<RolloutSpec['strategy']['canary']> = { ...gated };
  // memberSpec routes through the built-in router by default: on a cluster the member's own routing decides.
  delete canary.trafficRouting;
  for (const field of OWN_ROUTING) {
    const value = own.strategy.canary[field];
    if (value !== undefined) (canary as Record<string, unknown>)[field] = value;
  }
  const spec: RolloutSpec = { ...own, strategy: { canary } };
  if (release.pinning !== undefined && !options.canPin(spec)) {
    return { invalid: `${where} with spec.pinning: this Rollout's traffic provider cannot pin clients to a side of the release (the Service selector alone routes by pod labels and sees no cookie or header); route it through a provider that can, or remove pinning from the release to move its members together unpinned` };
  }
  const issue = release.pinning === undefined ? undefined : options.pinningIssue?.(spec);
  if (issue !== undefined) return { invalid: `${where} with spec.pinning: release "${release.name}" ${issue}` };
  return { spec };
}
