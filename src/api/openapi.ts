/**
 * The OpenAPI 3.1 description of the daemon's API, served at /openapi.json, generated from the
 * contract (src/api/contract): every request body and every answer has its real schema.
 */
import { ENDPOINTS, ErrorBodySchema, STATUS_MEANING, type Endpoint } from './contract/index.js';

/** A TypeBox schema as plain JSON Schema (TypeBox's symbol keys do not survive JSON). */
const plain = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

function operationOf(e: Endpoint): Record<string, unknown> {
  const ok: Record<string, unknown> = {};
  if (e.response) ok['application/json'] = { schema: plain(e.response) };
  if (e.stream) ok[e.stream] = { schema: { type: 'string' } };
  // A console session's change without its CSRF token is a 403.
  const errorStatuses = [...(e.authenticated ? [401, ...(e.method === 'post' ? [403] : [])] : []), ...e.errors, 500];
  const responses: Record<string, unknown> = { '200': { description: 'OK', content: ok } };
  for (const status of errorStatuses) {
    responses[String(status)] = { description: STATUS_MEANING[status] ?? 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  const parameters = [
    ...(e.path.includes('{name}') ? [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]+$' } }] : []),
    ...(e.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: plain(q.schema) })),
  ];
  return {
    summary: e.summary,
    security: e.authenticated ? [{ bearer: [] }, { session: [] }] : [],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(e.body ? { requestBody: { required: ((e.body as { required?: string[] }).required ?? []).length > 0, content: { 'application/json': { schema: plain(e.body) } } } } : {}),
    responses,
  };
}

/** Builds the OpenAPI document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of ENDPOINTS) (paths[e.path] ??= {})[e.method] = operationOf(e);
  return {
    openapi: '3.1.0',
    info: { title: 'graylane daemon API', version, description: 'Loopback only. Bearer token from the state directory.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'graylane-session' } }, schemas: { Error: plain(ErrorBodySchema) } },
    paths,
  };
}
