/** The pure half of analysis: conditions, template resolution, run judging and the guard. */
export * from './condition.js';
export * from './types.js';
export * from './template.js';
export * from './measurement.js';
export * from './run.js';
export * from './sequential.js';
export * from './guard.js';
