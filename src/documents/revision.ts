/**
 * Revision identity: a short hash of exactly what makes a revision, so that any change to it is a
 * new revision and nothing else (key order, a replica count, a strategy) is.
 */
import { createHash } from 'node:crypto';
import type { AppService, Rollout } from './schema.js';

/** JSON with keys sorted at every level; `undefined` fields are left out, as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** A stable 10-hex-character hash of `template`'s canonical JSON. */
export function revisionHash(template: unknown): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 10);
}

/**
 * What makes an App service's revision: for a process, its command, env and cwd (an absent env
 * or cwd is the same as an empty env or `.`); for a targets service, its targets.
 */
export function appServiceTemplate(service: AppService): unknown {
  if (service.process) {
    const { command, env, cwd } = service.process;
    return { command, env: env ?? {}, cwd: cwd ?? '.' };
  }
  return { targets: service.targets ?? [] };
}

/** The revision of an App service. */
export function appServiceRevision(service: AppService): string {
  return revisionHash(appServiceTemplate(service));
}

/** The revision of a Rollout: its pod template. */
export function rolloutRevision(rollout: Pick<Rollout, 'spec'>): string {
  return revisionHash(rollout.spec.template ?? {});
}
