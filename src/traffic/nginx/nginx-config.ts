/**
 * ingress-nginx (`trafficRouting.nginx`), validate half: the adapter that writes canary Ingress
 * annotations comes with the Kubernetes issue; until then documents naming it are checked here,
 * and the registry refuses to apply it.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/**
 * Canary Ingress annotations split by weight (`canary-weight`) and match one header
 * (`canary-by-header`) or cookie (`canary-by-cookie`); they cannot mirror to the canary.
 */
const NGINX_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'verify']);

/** Checks `trafficRouting.nginx` of a rollout spec; see {@link nginxTrafficValidator}. */
export function validateNginx(spec: RolloutSpec): TrafficIssue[] {
  const c = spec.strategy.canary;
  const nginx = c?.trafficRouting?.nginx;
  if (!c || !nginx) return [];
  const at = ['strategy', 'canary', 'trafficRouting', 'nginx'];
  const out: TrafficIssue[] = [];
  if (!nginx.stableIngress && !nginx.stableIngresses) out.push({ path: at, reason: 'needs stableIngress or stableIngresses' });
  if (nginx.stableIngress && nginx.stableIngresses) out.push({ path: [...at, 'stableIngresses'], reason: 'use either stableIngress or stableIngresses, not both' });
  // The canary Ingress points at canaryService, the stable one at stableService.
  for (const field of ['canaryService', 'stableService'] as const) {
    if (c[field] === undefined) out.push({ path: ['strategy', 'canary', field], reason: 'required with trafficRouting.nginx' });
  }
  return [...out, ...capabilityIssues('trafficRouting.nginx', NGINX_CAPABILITIES, spec)];
}

/** ingress-nginx, validation only (the adapter comes with the Kubernetes issue). */
export const nginxTrafficValidator: TrafficValidator = { type: 'nginx', capabilities: NGINX_CAPABILITIES, validate: validateNginx };
