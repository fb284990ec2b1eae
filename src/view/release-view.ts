/**
 * Builds the view of a release from its state and its members' own rollout views. The members
 * keep their structure (`members`); the release's own rows name each revision "member revision"
 * so that one table shows the whole release.
 */
import type { ReleaseState } from '../engine/release/releases.js';
import { outcomeOf } from './outcome.js';
import { DEFAULT_NAMESPACE, type MemberView, type ReleaseTrafficView, type ServiceView } from './view-model.js';

/** Everything a release's view is made of. */
export interface ReleaseViewInputs {
  /** Release name. */
  name: string;
  /** Its namespace; `default` when absent (a single host). */
  namespace?: string | undefined;
  /** Number of steps of the release's strategy. */
  steps: number;
  /** The release's persisted state; absent before its first pass. */
  state: ReleaseState | undefined;
  /** Each member service's own rollout view, in the release's order. */
  members: MemberView[];
  /** What the canary really got beside the weight set (and skew errors caught), while the router pins the release. */
  releaseTraffic?: ReleaseTrafficView | undefined;
  /**
   * Whether the data plane keeps pages of the old version on the old revisions through the skew
   * window after promotion (the single-host router does). Only then does the view name the
   * window's end: elsewhere the state's deadline only says when old revisions are retired.
   */
  pinsOldPages?: boolean | undefined;
}

function phaseOf(state: ReleaseState | undefined, views: MemberView[]): ServiceView['phase'] {
  if (state?.phase === 'aborted') return 'Degraded';
  if ((state?.phase === 'progressing' && state.paused) || views.some((v) => v.phase === 'Paused')) return 'Paused';
  if (views.some((v) => v.phase === 'Progressing')) return 'Progressing';
  if (views.every((v) => v.phase === 'Healthy')) return 'Healthy';
  return views.every((v) => v.phase === 'Healthy' || v.phase === 'Completed') ? 'Completed' : 'Progressing';
}

/** The view of a release: one row per member revision, and each member's own view. */
export function buildReleaseView(input: ReleaseViewInputs): ServiceView {
  const { state, members: views } = input;
  const phase = phaseOf(state, views);
  const inProgress = state?.phase === 'progressing';
  const revisions = views.flatMap((v) => v.revisions.map((r) => ({ ...r, name: `${v.name} ${r.name}`, member: v.name })));
  const routes = views.flatMap((v) => (v.routes ?? []).map((r) => ({ ...r, name: `${v.name}/${r.name}`, description: `${v.name}: ${r.description}` })));
  return {
    name: input.name,
    namespace: input.namespace ?? DEFAULT_NAMESPACE,
    kind: 'release',
    phase,
    strategy: 'canary',
    step: inProgress ? Math.min(state.stepIndex + 1, input.steps) : 0,
    steps: input.steps,
    message: state?.message ?? 'no release yet: apply a change to a member',
    ...outcomeOf({ phase, revisions }),
    revisions,
    analysis: views.flatMap((v) => v.analysis.map((a) => ({ ...a, name: `${v.name}/${a.name}` }))),
    aborted: state?.phase === 'aborted',
    pauseReasons: [...new Set(views.flatMap((v) => v.pauseReasons))],
    ...(views.some((v) => v.routes) ? { routes } : {}),
    ...(input.releaseTraffic ? { releaseTraffic: input.releaseTraffic } : {}),
    members: views.map(memberOf),
    ...(input.pinsOldPages && state?.phase === 'promoted' && state.skewUntilMs !== undefined ? { skewWindowEndsAtMs: state.skewUntilMs } : {}),
  };
}

/** A member's view as it sits in its release's: its own, without a nested `members`. */
function memberOf(view: MemberView & { members?: unknown }): MemberView {
  const { members: _members, ...own } = view;
  return own;
}
