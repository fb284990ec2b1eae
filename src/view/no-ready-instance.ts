/**
 * The sentence `graylane status` and the console both show for a revision that had no ready
 * instance: where its requests went instead over the last 10 s. One wording for both, so a user
 * who reads one recognises the other.
 */

/** What the sentence reads from a revision's live figures. */
export interface NoReadyInstanceFigures {
  /** 1, 2, 3 … as `graylane history` numbers revisions. */
  number: number;
  /** The revision's name. */
  name: string;
  /** Requests meant for it that went to the other side. */
  fallbacks: number;
  /** Requests of pages pinned to it that its unready instances served (absent from an earlier daemon). */
  unreadyServed?: number | undefined;
}

/** "#3 api-… has no ready instance: …" when it sent requests elsewhere or served them unready; undefined otherwise. */
export function noReadyInstanceSentence(r: NoReadyInstanceFigures): string | undefined {
  const parts = [
    ...(r.fallbacks > 0 ? [`${r.fallbacks} of its requests went to the other side`] : []),
    ...((r.unreadyServed ?? 0) > 0 ? [`its unready instances served ${r.unreadyServed} requests of pages pinned to it`] : []),
  ];
  return parts.length > 0 ? `#${r.number} ${r.name} has no ready instance: ${parts.join(' and ')} in the last 10 s` : undefined;
}
