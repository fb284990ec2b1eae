/**
 * What an app process is started with: its working directory, its environment (a minimal part of
 * the daemon's unless the template asks for all of it) and the markers that let a later daemon find
 * it. Checked before spawning, so that a typo fails with an error naming what is wrong.
 */
import path from 'node:path';
import type { ProcessTemplate } from '../../documents/schema.js';
import { resolveCommand, resolveCwd } from './command.js';
import { STATE_DIR_ENV } from './orphans.js';

/** What an app process gets from the daemon's environment unless its template has `inheritEnv: true`. */
export const BASE_ENV_NAMES: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ'];

/**
 * The part of the daemon's environment every app process gets: enough to find programs and
 * format text, nothing else. The daemon's environment often holds its operator's credentials
 * (cloud keys, tokens), which an app (or a canary of it) has no business reading.
 */
export function baseEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (BASE_ENV_NAMES.includes(name) || name.startsWith('LC_'))) out[name] = value;
  }
  return out;
}

/** Where and with what environment a template's process starts. */
export interface LaunchSettings {
  /** The resolved, existing working directory. */
  cwd: string;
  /** The environment, before the instance's markers. */
  env: NodeJS.ProcessEnv;
}

/**
 * Resolves a template's cwd (against `baseDir`) and environment and checks its command is found;
 * throws the errors of command.ts (`CwdNotFoundError`, `CommandNotFoundError`).
 */
export function preflight(baseDir: string, template: ProcessTemplate): LaunchSettings {
  const cwd = resolveCwd(baseDir, template.cwd);
  const env = { ...(template.inheritEnv === true ? process.env : baseEnvironment(process.env)), ...template.env };
  resolveCommand(template.command[0] ?? '', cwd, env.PATH);
  return { cwd, env };
}

/** Who an instance is, as its process sees it. */
export interface InstanceMarkers {
  /** The port it must listen on (`PORT`). */
  port: number;
  /** `GRAYLANE_SERVICE` */
  service: string;
  /** `GRAYLANE_REVISION` */
  revision: string;
  /** `GRAYLANE_INSTANCE` */
  id: string;
  /** The daemon's state directory (`GRAYLANE_STATE_DIR`, made absolute). */
  stateDir: string;
}

/** `env` plus the instance's markers: a later daemon finds the process by them if the state that records it is lost. */
export function withInstanceMarkers(env: NodeJS.ProcessEnv, markers: InstanceMarkers): NodeJS.ProcessEnv {
  return {
    ...env, PORT: String(markers.port), GRAYLANE_SERVICE: markers.service, GRAYLANE_REVISION: markers.revision,
    GRAYLANE_INSTANCE: markers.id, [STATE_DIR_ENV]: path.resolve(markers.stateDir),
  };
}
