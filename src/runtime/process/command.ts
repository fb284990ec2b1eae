/** Checks a process template's cwd and command before spawning, so errors name what is wrong. */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { CommandNotFoundError, CwdNotFoundError } from '../errors.js';

/** Resolves `cwd` against `baseDir` and checks it is an existing directory. */
export function resolveCwd(baseDir: string, cwd: string | undefined): string {
  const dir = path.resolve(baseDir, cwd ?? '.');
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new CwdNotFoundError(dir, 'does not exist');
  }
  if (!isDir) throw new CwdNotFoundError(dir, 'is not a directory');
  return dir;
}

function executable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the file `command` will execute: a path (contains `/`) relative to `cwd`, else the first
 * executable match on PATH, as execvp does. Throws {@link CommandNotFoundError}.
 */
export function resolveCommand(command: string, cwd: string, pathEnv: string | undefined): string {
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    if (executable(file)) return file;
    throw new CommandNotFoundError(command, cwd, `${file} does not exist or is not executable`);
  }
  const dirs = (pathEnv ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const file = path.resolve(cwd, dir, command);
    if (executable(file)) return file;
  }
  throw new CommandNotFoundError(command, cwd, 'not on PATH; use an absolute path or fix PATH');
}
