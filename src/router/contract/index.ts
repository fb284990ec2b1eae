/**
 * The router's contract: the types a control plane and the data plane exchange (route tables,
 * events, statistics). The only part of `src/router` that layers other than composition roots may
 * import; it holds types only, so importing it costs nothing at run time and keeps pure code pure.
 */
export type * from './route-table.js';
export type * from './events.js';
export type * from './stats.js';
