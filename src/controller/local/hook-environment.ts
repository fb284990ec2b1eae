/**
 * Where a hook's command runs on a single host: in its revision's working directory with its
 * revision's environment, as the revision's own processes would (a migration reads the same
 * DATABASE_URL the new code does), plus markers saying which service, revision and hook it is.
 */
import type { ProcessTemplate } from '../../documents/schema.js';
import type { CommandProviderOptions } from '../../metrics/index.js';
import { baseEnvironment } from '../../runtime/process/process-env.js';
import type { Store } from '../../state/store.js';

/** A hook names a revision whose process the daemon does not know (not a process revision, or forgotten). */
export class HookEnvironmentError extends Error {
  override readonly name = 'HookEnvironmentError';
  readonly code = 'HookRevisionUnknown';
}

/** Options of {@link hookEnvironment}. */
export interface HookEnvironmentOptions {
  /** Where the revisions' templates are kept. */
  store: Pick<Store, 'listRevisions'>;
  /** The service being rolled out. */
  service: string;
  /** The revision the hook belongs to (the new one). */
  revision: string;
  /** preRollout, prePromotion or postPromotion (`GRAYLANE_HOOK`). */
  hook: string;
  /** The daemon's environment (default this process's): what `inheritEnv` passes on. */
  daemonEnv?: NodeJS.ProcessEnv;
}

/** The working directory and base environment of the hook's command. */
export function hookEnvironment(options: HookEnvironmentOptions): CommandProviderOptions & { cwd: string; baseEnv: Record<string, string> } {
  const { service, revision, hook } = options;
  const stored = options.store.listRevisions(service).find((r) => r.name === revision);
  const template = stored?.template as Partial<ProcessTemplate> | undefined;
  if (!template || !Array.isArray(template.command) || typeof template.cwd !== 'string') {
    throw new HookEnvironmentError(`${hook} hook: revision ${revision} of service "${service}" has no process the daemon knows, so there is no environment to run the hook in`);
  }
  const daemonEnv = options.daemonEnv ?? process.env;
  const env = { ...(template.inheritEnv === true ? daemonEnv : baseEnvironment(daemonEnv)), ...template.env, GRAYLANE_SERVICE: service, GRAYLANE_REVISION: revision, GRAYLANE_HOOK: hook };
  const baseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) baseEnv[k] = v;
  return { cwd: template.cwd, baseEnv };
}
