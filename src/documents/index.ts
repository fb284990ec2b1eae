/** graylane's documents: schema, loading with exact errors, Argo import, JSON Schema, revisions. */
export * from './schema.js';
export { SpecError, formatSpecError, formatSpecWarning, formatSpecNote } from './errors.js';
export type { SpecErrorCode, SpecWarning, SpecWarningCode, SpecNote } from './errors.js';
export { loadDocuments, loadFiles, DOCUMENT_KINDS } from './load.js';
export type { LoadedDocument, LoadResult, LoadChecks, TrafficCheckIssue, TrafficCheckTarget, TrafficPlace, SourceText, DocumentKind, DocumentOrigin } from './load.js';
export { revisionHash, canonicalJson, appServiceTemplate, appServiceRevision, rolloutRevision } from './revision.js';
export { rolloutFromAppService, UnknownServiceError } from './app-rollout.js';
export { jsonSchema, crdSchema, SCHEMA_KINDS } from './json-schema.js';
export type { JsonSchema, SchemaKind } from './json-schema.js';
export { CRD_GROUP, CRD_KINDS, CRD_VERSION, crdOpenApiSchema, crdsYaml, customResourceDefinition, customResourceDefinitions } from './crds.js';
export type { CrdKind, CustomResourceDefinitionObject } from './crds.js';
export * from './status-schema.js';
export { documentReference } from './reference.js';
export { importArgo } from './import-argo.js';
export type { ImportResult } from './import-argo.js';
