/**
 * Header and mirror routes set by hand: the same change a `setHeaderRoute` / `setMirrorRoute`
 * step makes (a route of that name is replaced, or removed without a match), decided on a
 * person's request. Routes set so stay until a step of the same name changes them, and go with
 * every other route when the rollout ends or aborts, as step routes do.
 */
import type { StringMatch } from '../documents/schema.js';
import type { Context } from './context.js';
import { OperationError, type HeaderRouteMatch, type MirrorRouteMatch, type RouterAbilities, type UserOperation } from './types.js';

/** A route operation, as the engine applies it. */
export type RouteOperation = Extract<UserOperation, { type: 'setHeaderRoute' | 'setMirrorRoute' }>;

/** Preconditions the caller has already checked: a canary in progress, with steps and trafficRouting, not aborted. */
export function applyRouteOperation(ctx: Context, op: RouteOperation, router: RouterAbilities | undefined): void {
  const s = ctx.status;
  if (op.name.trim() === '') throw new OperationError('InvalidRoute', 'route name: must not be empty');
  const removing = op.match === undefined || op.match.length === 0;
  if (op.type === 'setHeaderRoute') {
    if (!removing) (op.match ?? []).forEach((m, i) => checkHeaderMatch(m, i));
  } else {
    if (op.percentage !== undefined && (!Number.isInteger(op.percentage) || op.percentage < 1 || op.percentage > 100)) {
      throw new OperationError('InvalidRoute', `percentage: must be a whole number from 1 to 100, got ${String(op.percentage)}`);
    }
    if (removing && op.percentage !== undefined) throw new OperationError('InvalidRoute', 'a mirror route with a percentage needs a match (a path prefix or a method); to remove the route, give neither');
    if (!removing) (op.match ?? []).forEach((m, i) => checkMirrorMatch(m, i));
  }
  const kind = op.type === 'setHeaderRoute' ? 'header' : 'mirror';
  const routes: { name: string }[] = op.type === 'setHeaderRoute' ? s.headerRoutes : s.mirrorRoutes;
  if (removing) {
    if (!routes.some((r) => r.name === op.name)) {
      const names = routes.map((r) => r.name);
      throw new OperationError('NoSuchRoute', `no ${kind} route "${op.name}" is in force (${names.length ? `in force: ${names.join(', ')}` : 'none is'})`);
    }
  } else {
    checkRouter(ctx, op, router);
  }
  if (op.type === 'setHeaderRoute') {
    s.headerRoutes = s.headerRoutes.filter((r) => r.name !== op.name);
    if (!removing) s.headerRoutes.push({ name: op.name, match: structuredClone(op.match ?? []) });
  } else {
    s.mirrorRoutes = s.mirrorRoutes.filter((r) => r.name !== op.name);
    if (!removing) s.mirrorRoutes.push({ name: op.name, match: structuredClone(op.match ?? []), percentage: op.percentage ?? 100 });
  }
  const what = removing ? 'removed' : op.type === 'setHeaderRoute' ? 'set' : `set (${op.percentage ?? 100}% mirrored)`;
  ctx.event('info', op.type === 'setHeaderRoute' ? 'ManualHeaderRoute' : 'ManualMirrorRoute', `${kind === 'header' ? 'Header' : 'Mirror'} route ${op.name} ${what} by hand; holds until a step of that name changes it, or the rollout ends`);
}

/** Refuses what the router cannot carry, or a name Argo's `managedRoutes` does not list. */
function checkRouter(ctx: Context, op: RouteOperation, router: RouterAbilities | undefined): void {
  const managed = ctx.spec.strategy.canary?.trafficRouting?.managedRoutes;
  if (managed !== undefined || router?.managedRoutesRequired) {
    const names = (managed ?? []).map((r) => r.name);
    if (!names.includes(op.name)) {
      throw new OperationError('UnmanagedRoute', `route "${op.name}" is not listed in trafficRouting.managedRoutes (${names.length ? `listed: ${names.join(', ')}` : 'none is listed'}); add it there first`);
    }
  }
  if (!router) return;
  const needs: [string, string][] = [];
  if (op.type === 'setHeaderRoute') {
    if ((op.match ?? []).some((m) => m.headerName !== undefined)) needs.push(['headerRoute', 'route by header']);
    if ((op.match ?? []).some((m) => m.cookieName !== undefined)) needs.push(['cookieRoute', 'route by cookie']);
  } else {
    needs.push(['mirror', 'mirror traffic']);
  }
  const missing = needs.find(([capability]) => !router.capabilities.has(capability));
  if (missing) throw new OperationError('RouterCannot', `${op.type} needs a traffic router that can ${missing[1]}; ${router.name} cannot`);
}

function checkStringMatch(m: StringMatch | undefined, field: string): void {
  if (m === undefined) return;
  const given = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
  if (given.length !== 1 || typeof m[given[0]!] !== 'string') throw new OperationError('InvalidRoute', `${field}: needs exactly one of exact, prefix, regex`);
  if (given[0] === 'regex') {
    try {
      new RegExp(m.regex!);
    } catch {
      throw new OperationError('InvalidRoute', `${field}: regex ${JSON.stringify(m.regex)} is not a valid regular expression`);
    }
  }
}

function checkHeaderMatch(m: HeaderRouteMatch, i: number): void {
  const header = m.headerName !== undefined || m.headerValue !== undefined;
  const cookie = m.cookieName !== undefined || m.cookieValue !== undefined;
  const whole = (!!m.headerName && m.headerValue !== undefined && !cookie) || (!!m.cookieName && m.cookieValue !== undefined && !header);
  if (!whole) throw new OperationError('InvalidRoute', `match[${i}]: needs headerName and headerValue, or cookieName and cookieValue`);
  checkStringMatch(m.headerValue, `match[${i}].headerValue`);
  checkStringMatch(m.cookieValue, `match[${i}].cookieValue`);
}

function checkMirrorMatch(m: MirrorRouteMatch, i: number): void {
  if (m.method === undefined && m.path === undefined && Object.keys(m.headers ?? {}).length === 0) {
    throw new OperationError('InvalidRoute', `match[${i}]: needs a method, a path or headers to match`);
  }
  checkStringMatch(m.method, `match[${i}].method`);
  checkStringMatch(m.path, `match[${i}].path`);
  for (const [name, value] of Object.entries(m.headers ?? {})) checkStringMatch(value, `match[${i}].headers.${name}`);
}
