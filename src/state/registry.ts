import { openSqliteStore } from './sqlite/sqlite-store.js';
import { StoreError, type Store } from './store.js';

/** How to open a store of one type. */
export type StoreFactory = (options: { file: string }) => Store;

/** Store adapters keyed by `type`. */
export const storeRegistry: ReadonlyMap<string, StoreFactory> = new Map<string, StoreFactory>([
  ['sqlite', (options) => openSqliteStore(options)],
]);

/** Opens a store of the given type; an unknown type is a clear error, not a fallback. */
export function openStore(options: { type: string; file: string }): Store {
  const factory = storeRegistry.get(options.type);
  if (!factory) {
    throw new StoreError('StoreUnavailable', `no store of type "${options.type}"; known: ${[...storeRegistry.keys()].join(', ')}`);
  }
  return factory(options);
}
