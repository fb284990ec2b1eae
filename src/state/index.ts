export * from './store.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { openStore, storeRegistry, type StoreFactory } from './registry.js';
