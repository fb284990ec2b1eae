/**
 * undici's `Client` without the rest of undici. The package's index loads fetch, WebSocket,
 * EventSource, the cache and the mocks with it: about 6 MB of memory in every router process,
 * which needs only this class. undici has no `exports` map, so the file is reachable; the test
 * beside this one fails if a new undici moves it or makes it differ from `undici.Client`.
 *
 * Loaded at first use, not on import: the daemon imports the router to check its options even
 * when the router runs in worker processes, and the class alone is 4 MB it would never use.
 */
import type { Client as UndiciClient } from 'undici';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let loaded: typeof UndiciClient | undefined;

/** undici's `Client` class, loaded alone, once. */
export function undiciClient(): typeof UndiciClient {
  return (loaded ??= require('undici/lib/dispatcher/client.js') as typeof UndiciClient);
}

/** An instance of undici's `Client`. */
export type Client = UndiciClient;
