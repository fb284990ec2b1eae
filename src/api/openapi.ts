/** The OpenAPI 3.1 description of the daemon's API, served at /openapi.json. */

interface Endpoint {
  method: 'get' | 'post';
  path: string;
  summary: string;
  body?: Record<string, unknown>;
  stream?: 'text/event-stream' | 'text/plain';
}

/** Every operation may carry the status version it was decided on (or send it as If-Match). */
const expectedVersion = { expectedVersion: { type: 'integer', minimum: 0, description: 'the view\'s `version` the operation was decided on; 409 if the status moved on' } };
const operationBody = (properties: Record<string, unknown> = {}) => ({ type: 'object', properties: { ...properties, ...expectedVersion }, additionalProperties: false });

const ENDPOINTS: Endpoint[] = [
  { method: 'get', path: '/v1/health', summary: 'Liveness of the daemon (no token needed).' },
  { method: 'post', path: '/v1/apply', summary: 'Validate and apply an App file as one unit.', body: { type: 'object', required: ['text', 'file'], properties: { text: { type: 'string' }, file: { type: 'string' }, prune: { type: 'boolean', description: 'remove services the file does not name (needed when its App name differs from the running one)' } } } },
  { method: 'get', path: '/v1/services', summary: 'Every service and release with its rollout view.' },
  { method: 'get', path: '/v1/services/{name}', summary: 'One service\'s rollout view.' },
  { method: 'get', path: '/v1/services/{name}/history', summary: 'Revisions, newest first; environment values masked unless ?showEnv=true.' },
  { method: 'get', path: '/v1/services/{name}/analysis', summary: 'Analysis runs and their measurements.' },
  { method: 'get', path: '/v1/services/{name}/logs', summary: 'Instance logs, streamed; ?revision=R, ?tail=N (last N lines per instance), ?since=T (epoch ms or RFC 3339), ?follow=1 keeps streaming. A body cut short (no final chunk) means the stream failed.', stream: 'text/plain' },
  { method: 'post', path: '/v1/services/{name}/promote', summary: 'Go to the next step; {"full": true} skips all remaining steps.', body: operationBody({ full: { type: 'boolean' } }) },
  { method: 'post', path: '/v1/services/{name}/pause', summary: 'Pause the rollout where it is.', body: operationBody() },
  { method: 'post', path: '/v1/services/{name}/resume', summary: 'Resume a paused rollout.', body: operationBody() },
  { method: 'post', path: '/v1/services/{name}/abort', summary: 'Abort: all traffic back to stable at once.', body: operationBody() },
  { method: 'post', path: '/v1/services/{name}/retry', summary: 'Retry an aborted rollout from step 1.', body: operationBody() },
  { method: 'post', path: '/v1/services/{name}/undo', summary: 'Roll back to the previous (or the given) revision.', body: operationBody({ toRevision: { type: 'integer', minimum: 1 } }) },
  { method: 'post', path: '/v1/services/{name}/weight', summary: 'Set the canary weight by hand (the console slider).', body: { type: 'object', required: ['percent'], properties: { percent: { type: 'integer', minimum: 0, maximum: 100 }, ...expectedVersion } } },
  { method: 'post', path: '/v1/services/{name}/restart', summary: 'Restart the stable revision\'s instances one by one.', body: operationBody() },
  { method: 'get', path: '/v1/events', summary: 'Events; with Accept: text/event-stream a live stream of `event` and `status` messages (Last-Event-ID resumes).', stream: 'text/event-stream' },
];

/** Builds the OpenAPI document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of ENDPOINTS) {
    const op: Record<string, unknown> = {
      summary: e.summary,
      security: e.path === '/v1/health' ? [] : [{ bearer: [] }],
      responses: {
        '200': { description: 'OK', content: { [e.stream ?? 'application/json']: {} } },
        '401': { description: 'missing or wrong token' },
        '404': { description: 'no such service' },
        '409': { description: 'the operation makes no sense in the current state, or the status moved on since expectedVersion (the message says what changed)' },
        '503': { description: 'the daemon cannot write its state (e.g. the state directory is full); nothing was changed' },
        '422': { description: 'the document is invalid; details has one line per error' },
      },
    };
    if (e.path.includes('{name}')) op.parameters = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
    if (e.body) op.requestBody = { required: true, content: { 'application/json': { schema: e.body } } };
    (paths[e.path] ??= {})[e.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'graylane daemon API', version, description: 'Loopback only. Bearer token from the state directory.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
