export * from './store.js';
export * from './state-port.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { createSqliteState, openSqliteState, type SqliteStateOptions } from './sqlite/sqlite-state.js';
export { openStore, storeRegistry, type StoreFactory } from './registry.js';
