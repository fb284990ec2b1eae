/** graylane's built-in HTTP router (single-host data plane). */
export { createRouter, type Router, type RouterAddresses } from './router.js';
export { RouterError, formatPath, type RouterErrorCode, type RouterIssue } from './errors.js';
export { assertRouteTable } from './route-table-check.js';
export { RouteTableSchema, RouterConfigSchema } from './route-table-schema.js';
export { loadRouterConfig, parseRouterConfig, type RouterConfig } from './config.js';
export type * from './types.js';
export { signReleaseToken, DEFAULT_ASSET_PATTERN, type ReleaseTokenClaims } from './release-token.js';
