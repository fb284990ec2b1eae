/**
 * The one view-model of a rollout and a release that the CLI, the API and the console all show,
 * so that the three never disagree on what "step 2/4" or "ready 3/4" means. The types are the
 * static types of the API contract's schemas (src/api/contract/views.ts): one source for both.
 */
export type {
  AnalysisBriefView,
  AnalysisRunView,
  GuardFiguresView,
  GuardVerdictView,
  InstanceView,
  MemberView,
  ReleaseTrafficView,
  RevisionLiveView,
  RevisionRole,
  RevisionView,
  RouteView,
  ServiceView,
  StateWritesView,
} from '../api/contract/views.js';

/** The namespace of every name on a single host. */
export const DEFAULT_NAMESPACE = 'default';
