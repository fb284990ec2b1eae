/** The daemon API's contract: one TypeBox source for views, operations, events, errors and endpoints. */
export * from './views.js';
export * from './operations.js';
export * from './events.js';
export * from './errors.js';
export * from './console.js';
export * from './endpoints.js';
export * from './validate.js';
