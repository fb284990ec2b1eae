/** graylane's documents: schema, loading with exact errors, Argo import, JSON Schema, revisions. */
export * from './schema.js';
export { SpecError, formatSpecError, formatSpecWarning, formatSpecNote } from './errors.js';
export type { SpecErrorCode, SpecWarning, SpecWarningCode, SpecNote } from './errors.js';
export { loadDocuments, loadFiles, DOCUMENT_KINDS } from './load.js';
export type { LoadedDocument, LoadResult, SourceText, DocumentKind, DocumentOrigin } from './load.js';
