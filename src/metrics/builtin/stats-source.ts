/**
 * Where the builtin provider reads its figures: the router's per-revision statistics over a recent
 * window, in the router's own contract type (`RevisionStats`), never a copy of its shape.
 */
import type { RevisionStats } from '../../router/contract/index.js';

/** The router's figures, per service and revision. */
export interface RevisionStatsSource {
  /**
   * Figures for `revision` of `service` over the last `windowMs`. Rejects (or throws) when the
   * service or revision is unknown.
   */
  stats(query: { service: string; revision: string; windowMs: number }): RevisionStats | Promise<RevisionStats>;
}
