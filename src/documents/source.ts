/**
 * YAML/JSON text → documents, keeping the node tree so any field path can be turned back into a
 * line and column. JSON is read by the same parser (it is YAML), so both get the same positions.
 */
import { LineCounter, parseAllDocuments, isAlias, isCollection, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { SpecError } from './errors.js';

/** One step of a field path: a key of a mapping or an index of a list. */
export type PathSegment = string | number;

/** Where a problem is: a field path and whether the key or the value is at fault. */
export interface Issue {
  /** Segments from the document root. */
  readonly path: readonly PathSegment[];
  /** `key` points at the field's name (unknown fields), `value` at what it holds. */
  readonly at: 'key' | 'value';
  /** The reason, complete and self-contained. */
  readonly reason: string;
  /** Error code for the resulting {@link SpecError}. */
  readonly code: SpecError['code'];
}

/** `spec.strategy.canary.steps[1].pause.duration`; odd keys are quoted: `labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** One parsed document of a file, with what is needed to place errors in it. */
export class SourceDocument {
  constructor(
    /** The file name used in messages. */
    readonly file: string,
    /** The parsed YAML document (kept for positions and for comment-preserving edits). */
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    /** The plain data (YAML turned into JSON values). */
    readonly data: unknown,
  ) {}

  /** 1-based line and column of an offset in the file. */
  linePos(offset: number): { line: number; column: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }

  /** Where the document starts (its first node, not the `---`). */
  start(): { line: number; column: number } {
    const n = this.doc.contents;
    return this.linePos(n?.range?.[0] ?? this.doc.range[0]);
  }

  /**
   * Position of a path: the key of the last segment for `key`, otherwise the value, except that a
   * block mapping or list value is placed at its key (where a person looks for it). A path that
   * does not exist (a missing field) resolves to the deepest part that does.
   */
  position(path: readonly PathSegment[], at: 'key' | 'value'): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let best: number | undefined = rangeStart(node);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      node = this.resolve(node);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        const keyStart = rangeStart(pair.key);
        const value = this.resolve(pair.value);
        const last = i === path.length - 1;
        if (last && at === 'key') return this.linePos(keyStart ?? best ?? 0);
        // A value that is a collection, or empty, is placed at its key.
        best = (isCollection(value) || value == null || (isScalar(value) && value.value == null)) ? keyStart ?? best : rangeStart(pair.value) ?? keyStart ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (item === undefined) break;
        best = rangeStart(item) ?? best;
        node = item;
      } else {
        break;
      }
    }
    return this.linePos(best ?? 0);
  }

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | undefined)?.range?.[0];
}

/** Parses a whole file. Syntax errors come back as SpecErrors with positions; no documents then. */
export function parseSource(text: string, file: string): { documents: SourceDocument[]; errors: SpecError[] } {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const errors: SpecError[] = [];
  for (const d of docs) {
    // Only the first syntax error of a document: the parser's later ones follow from it.
    const e = d.errors[0];
    if (!e) continue;
    const p = lines.linePos(e.pos[0]);
    errors.push(new SpecError({ code: 'syntax', file, line: p.line, column: p.col, path: '', reason: syntaxReason(e.message) }));
  }
  if (errors.length) return { documents: [], errors };
  const documents: SourceDocument[] = [];
  for (const d of docs) {
    // An empty document (between two `---`, or a file of comments) holds nothing to load.
    if (d.contents == null || (isScalar(d.contents) && d.contents.value == null)) continue;
    let data: unknown;
    try {
      data = d.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      const p = lines.linePos(d.contents.range?.[0] ?? 0);
      errors.push(new SpecError({ code: 'syntax', file, line: p.line, column: p.col, path: '', reason: (e as Error).message }));
      continue;
    }
    documents.push(new SourceDocument(file, d, lines, data));
  }
  return { documents: errors.length ? [] : documents, errors };
}

/** yaml's messages end with " at line X, column Y:" and a code excerpt; the position is ours to print. */
function syntaxReason(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return `syntax error: ${first.replace(/ at line \d+, column \d+:?$/, '').trim()}`;
}
