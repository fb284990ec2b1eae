/** Error codes of the router module. */
export type RouterErrorCode =
  | 'INVALID_ROUTE_TABLE'
  | 'INVALID_OPTIONS'
  | 'INVALID_CONFIG'
  | 'NOT_STARTED'
  | 'ALREADY_STARTED'
  | 'NO_PER_SECOND_STATS';

/** Where in a document a problem is, and what it is. */
export interface RouterIssue {
  /** Path of the offending field, e.g. `['services', 0, 'canaryWeight']`. */
  path: (string | number)[];
  /** Why it is wrong, for people. */
  message: string;
  /** 1-based line in the source file, when the document came from one. */
  line?: number;
  /** 1-based column in the source file. */
  column?: number;
}

/** Formats a path as `services[0].canaryWeight`. */
export function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

/** A router error: bad route table, bad options or bad config file, or a lifecycle misuse. */
export class RouterError extends Error {
  override readonly name = 'RouterError';
  constructor(
    /** Machine-readable kind. */
    readonly code: RouterErrorCode,
    message: string,
    /** Field-level problems, when the error is about a document. */
    readonly issues: RouterIssue[] = [],
  ) {
    super(message);
  }
}
