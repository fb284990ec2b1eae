/** The chunks in `dir` that stand for a CommonJS package loaded with import(), each as one sentence naming the file and what to do instead. */
export function commonJsImportProblems(dir: string): string[];
