/** The App checks of `spec.router.type`: what the chosen data plane cannot do is refused at load. */
import type { PathSegment } from '../documents/source.js';
import type { AppSpec } from '../documents/schema.js';
import { dataPlaneLacks, type DataPlaneType } from '../router/control/data-planes.js';

const CLIENT_LIMITS = ['maxRequestBodyBytes', 'clientHeaderTimeout', 'clientBodyTimeout', 'sendTimeout', 'tunnelIdleTimeout', 'maxClientConnections'] as const;

/** Every problem of `spec` with its data plane, paths from the spec. */
export function dataPlaneIssues(spec: AppSpec): Array<{ path: PathSegment[]; reason: string }> {
  const router = spec.router ?? {};
  const type: DataPlaneType = router.type ?? 'builtin';
  const out: Array<{ path: PathSegment[]; reason: string }> = [];
  const refuse = (path: PathSegment[], what: string, why: string | undefined) => {
    if (why !== undefined) out.push({ path, reason: `${what} cannot run under router.type ${type}: ${why}` });
  };
  (spec.releases ?? []).forEach((r, i) => refuse(['releases', i], `release ${r.name}${r.pinning ? ' (with pinning)' : ''}`, dataPlaneLacks(type, 'releases')));
  for (const field of CLIENT_LIMITS) if (router[field] !== undefined) refuse(['router', field], `router.${field}`, dataPlaneLacks(type, 'client-limits'));
  if (router.trustedProxies !== undefined) refuse(['router', 'trustedProxies'], 'router.trustedProxies', dataPlaneLacks(type, 'trusted-proxies'));
  if (router.tls !== undefined) refuse(['router', 'tls'], 'router.tls', dataPlaneLacks(type, 'tls'));
  (spec.services ?? []).forEach((svc, i) => {
    if (svc.redirectToHttps === true) refuse(['services', i, 'redirectToHttps'], `service ${svc.name}'s redirectToHttps`, dataPlaneLacks(type, 'tls'));
  });
  if (router.workerPriority !== undefined && router.nginx !== undefined) out.push({ path: ['router', 'workerPriority'], reason: 'router.workerPriority cannot be set for an nginx you run yourself (router.nginx): graylane writes only its http include; set worker_priority in your nginx.conf' });
  if (router.workers === 0 && type === 'nginx') out.push({ path: ['router', 'workers'], reason: 'router.workers 0 means the built-in router inside the daemon; nginx needs at least one worker process: give a number, or remove it for one per core' });
  if (router.workers === 0 && type === 'builtin' && router.workerPriority !== undefined) out.push({ path: ['router', 'workerPriority'], reason: 'router.workerPriority needs router workers: with router.workers 0 the router runs inside the daemon, whose priority every app process it starts would inherit' });
  if (router.nginx !== undefined && type !== 'nginx') out.push({ path: ['router', 'nginx'], reason: 'router.nginx configures an nginx data plane: set router.type nginx, or remove it' });
  return out;
}
