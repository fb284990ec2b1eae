/** The one view of a rollout and a release, for the CLI, the API and the console. Pure. */
export * from './view-model.js';
export * from './outcome.js';
export * from './rollout-view.js';
export * from './release-view.js';
export * from './plan-view.js';
