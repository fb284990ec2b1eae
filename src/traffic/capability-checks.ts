/**
 * Which capabilities a rollout spec asks of its traffic provider, step by step, and the issues a
 * provider reports for those it lacks: a document asking for what its provider cannot do is
 * refused when it is loaded, never applied with the step silently dropped.
 */
import type { RolloutSpec } from '../documents/schema.js';
import type { TrafficCapability, TrafficIssue } from './traffic-provider.js';

/** One field of a spec that needs a capability. */
export interface CapabilityNeed {
  /** Path of the field in the rollout spec. */
  path: (string | number)[];
  /** What it needs. */
  capability: TrafficCapability;
  /** The feature, for messages (`setHeaderRoute`, `allowPreviewHeader`). */
  feature: string;
}

/** What each capability lets a provider do, for messages. */
const ABILITY: Record<TrafficCapability, string> = {
  weight: 'split traffic by weight',
  headerRoute: 'route by header',
  cookieRoute: 'route by cookie',
  mirror: 'mirror traffic',
  preview: 'reach a blue-green preview by header or cookie',
  releasePinning: 'pin clients to a release',
  verify: 'verify what is in force',
};

/** Every field of `spec` that needs a capability, in document order. */
export function capabilityNeeds(spec: RolloutSpec): CapabilityNeed[] {
  const out: CapabilityNeed[] = [];
  const steps = spec.strategy.canary?.steps ?? [];
  steps.forEach((step, i) => {
    const at = ['strategy', 'canary', 'steps', i];
    if ('setHeaderRoute' in step) {
      const match = step.setHeaderRoute.match ?? [];
      if (match.some((m) => m.headerName !== undefined)) out.push({ path: [...at, 'setHeaderRoute'], capability: 'headerRoute', feature: 'setHeaderRoute' });
      if (match.some((m) => m.cookieName !== undefined)) out.push({ path: [...at, 'setHeaderRoute'], capability: 'cookieRoute', feature: 'setHeaderRoute' });
    }
    if ('setMirrorRoute' in step && (step.setMirrorRoute.match?.length ?? 0) > 0) {
      out.push({ path: [...at, 'setMirrorRoute'], capability: 'mirror', feature: 'setMirrorRoute' });
    }
  });
  if (spec.strategy.blueGreen?.allowPreviewHeader) {
    out.push({ path: ['strategy', 'blueGreen', 'allowPreviewHeader'], capability: 'preview', feature: 'allowPreviewHeader' });
  }
  return out;
}

/** Issues for the needs of `spec` that a provider of `type` with `capabilities` cannot meet; one per field. */
export function capabilityIssues(type: string, capabilities: ReadonlySet<TrafficCapability>, spec: RolloutSpec): TrafficIssue[] {
  const out: TrafficIssue[] = [];
  const reported = new Set<string>();
  for (const need of capabilityNeeds(spec)) {
    const key = JSON.stringify(need.path);
    if (capabilities.has(need.capability) || reported.has(key)) continue;
    reported.add(key);
    out.push({ path: need.path, reason: `${need.feature} needs a traffic provider that can ${ABILITY[need.capability]}; ${type} cannot` });
  }
  return out;
}

/** The capability a decision needs that `capabilities` lacks, if any: the first one found. */
export function missingCapability(
  capabilities: ReadonlySet<TrafficCapability>,
  traffic: { headerRoutes: { match: { headerName?: string | undefined; cookieName?: string | undefined }[] }[]; mirrorRoutes: unknown[]; previewRevision?: string | undefined },
  previewAllowed: boolean,
): TrafficCapability | undefined {
  const matches = traffic.headerRoutes.flatMap((h) => h.match);
  if (matches.some((m) => m.headerName !== undefined) && !capabilities.has('headerRoute')) return 'headerRoute';
  if (matches.some((m) => m.cookieName !== undefined) && !capabilities.has('cookieRoute')) return 'cookieRoute';
  if (traffic.mirrorRoutes.length > 0 && !capabilities.has('mirror')) return 'mirror';
  if (previewAllowed && traffic.previewRevision !== undefined && !capabilities.has('preview')) return 'preview';
  return undefined;
}
