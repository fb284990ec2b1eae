/**
 * `graylane import FILE`: Argo Rollouts manifests → graylane documents. The YAML is edited in
 * place (comments and key order survive); fields graylane does not run are removed and listed.
 */
import type { SpecError, SpecNote, SpecWarning } from './errors.js';
import { API_VERSION } from './schema.js';
import { stageAll, type LoadChecks, type SourceText } from './load.js';

/** What an import gives: graylane YAML, or errors (then `yaml` is empty). */
export interface ImportResult {
  /** The graylane documents, `---`-separated; empty when there are errors. */
  readonly yaml: string;
  /** Each Argo field that was removed, by path. */
  readonly warnings: SpecWarning[];
  /** Why the import is impossible (the remainder is invalid, or the file is). */
  readonly errors: SpecError[];
  /** Documents left out of the output (Services, Ingresses…: apply them as they are). */
  readonly notes: SpecNote[];
}

/** Converts Argo Rollouts documents in `source` to graylane documents, checked with `checks` (see `loadDocuments`). */
export function importArgo(source: SourceText, checks: LoadChecks = {}): ImportResult {
  const { staged, out } = stageAll([source], undefined, checks);
  out.warnings.sort((a, b) => a.line - b.line || a.column - b.column);
  if (out.errors.length) return { yaml: '', warnings: out.warnings, errors: out.errors, notes: out.notes };
  const parts: string[] = [];
  for (const s of staged) {
    const doc = s.source.doc.clone();
    if (s.origin === 'argo') {
      for (const path of s.removed) doc.deleteIn(path);
      doc.set('apiVersion', API_VERSION);
    }
    parts.push(doc.toString({ lineWidth: 0 }).replace(/^---\n/, ''));
  }
  return { yaml: parts.join('---\n'), warnings: out.warnings, errors: [], notes: out.notes };
}
