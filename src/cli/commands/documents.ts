/** Commands that work on documents alone, without a daemon: validate, import, schema. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { LoadChecks, LoadResult } from '../../documents/index.js';

// The document layer (schema compiler, Kubernetes models) is loaded on first use, so that
// commands that do not read documents start fast.
const spec = () => import('../../documents/index.js');
const checks = async (): Promise<LoadChecks> => {
  const [{ analysisLoadChecks }, { trafficLoadChecks }] = await Promise.all([import('../../analysis/load-checks.js'), import('../../traffic/load-checks.js')]);
  return { ...analysisLoadChecks, ...trafficLoadChecks() };
};
import { CliError, EXIT, type CliContext } from '../context.js';

/** Loads files, printing warnings and notes to stderr; throws a CliError (exit 2) listing every error. */
export async function loadOrFail(ctx: CliContext, files: string[]): Promise<LoadResult> {
  const { loadFiles, formatSpecError, formatSpecNote, formatSpecWarning } = await spec();
  const result = await loadFiles(files, await checks());
  for (const w of result.warnings) ctx.warn(`warning: ${formatSpecWarning(w)}`);
  for (const n of result.notes) ctx.warn(`note: ${formatSpecNote(n)}`);
  if (result.errors.length > 0) {
    throw new CliError(
      `${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${files.join(', ')}; nothing was applied`,
      EXIT.usage,
      result.errors.map(formatSpecError),
    );
  }
  return result;
}

/** Registers validate, import and schema. */
export function registerDocumentCommands(program: Command, ctx: CliContext): void {
  program
    .command('validate <files...>')
    .description('Check documents: exit 0, or exit 2 with one file:line:col: field: reason line per error.')
    .addHelpText('after', '\nExamples:\n  graylane validate graylane.yaml\n  graylane validate rollout.yaml analysis.yaml   # templates referenced across files')
    .action(async (files: string[]) => {
      const { loadFiles, formatSpecError, formatSpecNote, formatSpecWarning } = await spec();
      const result = await loadFiles(files, await checks());
      for (const e of result.errors) ctx.print(formatSpecError(e));
      for (const w of result.warnings) ctx.warn(`warning: ${formatSpecWarning(w)}`);
      for (const n of result.notes) ctx.warn(`note: ${formatSpecNote(n)}`);
      if (result.errors.length > 0) {
        ctx.exitCode = EXIT.usage;
        return;
      }
      const kinds = result.documents.map((d) => `${d.kind} ${d.name}`).join(', ');
      ctx.warn(`ok: ${result.documents.length} document${result.documents.length === 1 ? '' : 's'}${kinds ? ` (${kinds})` : ''}`);
    });

  program
    .command('import <file>')
    .description('Convert Argo Rollouts manifests to graylane documents (printed to stdout); unsupported fields are listed by path.')
    .addHelpText('after', '\nExample:\n  graylane import rollout.yaml > graylane-rollout.yaml')
    .action(async (file: string) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, EXIT.usage);
      }
      const { importArgo, formatSpecError, formatSpecNote, formatSpecWarning } = await spec();
      const result = importArgo({ text, file }, await checks());
      for (const w of result.warnings) ctx.warn(`warning: ${formatSpecWarning(w)}`);
      for (const n of result.notes) ctx.warn(`note: ${formatSpecNote(n)}`);
      if (result.errors.length > 0) throw new CliError(`cannot import ${file}`, EXIT.usage, result.errors.map(formatSpecError));
      ctx.io.out(result.yaml);
    });

  program
    .command('schema [kind]')
    .description('Print the JSON Schema of a kind (App, Rollout, AnalysisTemplate, ClusterAnalysisTemplate), or of all.')
    .option('--crd', 'print the structural openAPIV3Schema a Kubernetes CRD uses')
    .option('--markdown', 'print the field reference as Markdown (docs/reference.md)')
    .addHelpText('after', '\nExamples:\n  graylane schema App\n  graylane schema Rollout --crd\n  graylane schema --markdown > docs/reference.md')
    .action(async (kind: string | undefined, o: { crd?: boolean; markdown?: boolean }) => {
      const { crdSchema, documentReference, jsonSchema, SpecError } = await spec();
      try {
        if (o.markdown) return ctx.io.out(documentReference());
        if (o.crd) {
          if (!kind) throw new CliError('--crd needs a kind, e.g. `graylane schema Rollout --crd`', EXIT.usage);
          return ctx.print(JSON.stringify(crdSchema(kind), null, 2));
        }
        ctx.print(JSON.stringify(jsonSchema(kind), null, 2));
      } catch (err) {
        if (err instanceof SpecError) throw new CliError(err.reason, EXIT.usage);
        throw err;
      }
    });
}
