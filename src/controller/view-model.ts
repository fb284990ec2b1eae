/** The view types moved to src/view; this keeps the old import path working. */
export type * from '../view/view-model.js';
