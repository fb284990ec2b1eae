/**
 * What the document loader reports: errors (the load fails), warnings (loaded, but something was
 * left out) and notes (documents passed over). All carry a position so a person can find the spot.
 */

/** Why a document was rejected; stable strings so callers and tests can branch on them. */
export type SpecErrorCode =
  | 'read' // the file could not be read
  | 'syntax' // YAML/JSON syntax
  | 'document' // not a document at all (no apiVersion/kind, a list, a scalar…)
  | 'schema' // the schema rejects a field
  | 'semantic' // well-formed, but an impossible combination
  | 'reference' // names something that does not exist
  | 'duplicate' // two documents or entries with the same identity
  | 'pod-template' // the Kubernetes schema rejects the pod template
  | 'unsupported' // an Argo Rollouts feature graylane does not do yet, which the document cannot do without
  | 'unknown-kind'; // asked for a kind graylane does not have

/** One clear reason why a document cannot be used, with where it is. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  /** What kind of problem; see {@link SpecErrorCode}. */
  readonly code: SpecErrorCode;
  /** The file as the user named it (or `<stdin>`, `<text>`). */
  readonly file: string;
  /** 1-based line of the offending field (its key for unknown fields); 0 when it is about the whole file. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** The field path, e.g. `spec.strategy.canary.steps[1].pause.duration`; empty for the file. */
  readonly path: string;
  /** The reason alone, without position or path. */
  readonly reason: string;

  constructor(init: { code: SpecErrorCode; file: string; line: number; column: number; path: string; reason: string }) {
    super(formatPosition(init.file, init.line, init.column, init.path, init.reason));
    this.code = init.code;
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.path = init.path;
    this.reason = init.reason;
  }

  /** A plain object for `--json` output. */
  toJSON(): { code: SpecErrorCode; file: string; line: number; column: number; path: string; message: string } {
    return { code: this.code, file: this.file, line: this.line, column: this.column, path: this.path, message: this.reason };
  }
}

/** Why a document loaded with less than it said. */
/** `unsupported`: an Argo field left out; `advice`: valid, but likely not what was meant (see semantic.ts). */
export type SpecWarningCode = 'unsupported' | 'advice';

/** Something left out of a loaded document (an Argo feature graylane does not run yet). */
export interface SpecWarning {
  /** What kind of warning. */
  readonly code: SpecWarningCode;
  /** The file. */
  readonly file: string;
  /** 1-based line of the field. */
  readonly line: number;
  /** 1-based column of the field. */
  readonly column: number;
  /** The field path of what was left out, e.g. `spec.strategy.canary.steps[2].experiment`. */
  readonly path: string;
  /** The reason alone. */
  readonly message: string;
}

/** A document that was not for graylane (a Service, an Ingress…) and was passed over. */
export interface SpecNote {
  /** The file. */
  readonly file: string;
  /** 1-based line where the document starts. */
  readonly line: number;
  /** e.g. `passed over Service "x": not a graylane kind`. */
  readonly message: string;
}

function formatPosition(file: string, line: number, column: number, path: string, reason: string): string {
  // Line 0 is the whole file (it has nothing to point at, e.g. no documents at all).
  if (line === 0) return `${file}: ${reason}`;
  return path ? `${file}:${line}:${column}: ${path}: ${reason}` : `${file}:${line}:${column}: ${reason}`;
}

/** `file:line:col: path: reason` (the path part is left out when the error is about the file). */
export function formatSpecError(e: SpecError): string {
  return formatPosition(e.file, e.line, e.column, e.path, e.reason);
}

/** `file:line:col: path: message`. */
export function formatSpecWarning(w: SpecWarning): string {
  return formatPosition(w.file, w.line, w.column, w.path, w.message);
}

/** `file:line: message`. */
export function formatSpecNote(n: SpecNote): string {
  return `${n.file}:${n.line}: ${n.message}`;
}
