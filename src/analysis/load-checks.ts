/** What the analysis layer checks in documents at load time, for the loader's `LoadChecks`. */
import type { LoadChecks } from '../documents/load.js';
import { compileCondition, ConditionError } from './judge/condition.js';

/** Conditions are compiled when a document is validated or applied, not first at run time. */
export const analysisLoadChecks: LoadChecks = {
  condition: (expression) => {
    try {
      compileCondition(expression);
      return undefined;
    } catch (err) {
      if (err instanceof ConditionError) return `${err.reason}${err.position === undefined ? '' : ` (at character ${err.position + 1})`}`;
      throw err;
    }
  },
};
