/** The CLI's way to its daemon: the address and token a `graylane up` left in its state dir. */
import { ApiClient, DaemonUnreachableError } from './client.js';
import { readDaemonInfo, readToken, startCommand } from './state-dir.js';

/** A client for the daemon whose state dir is `dir`; throws DaemonUnreachableError if none ran there. */
export function clientFromStateDir(dir: string): ApiClient {
  const info = readDaemonInfo(dir);
  const token = readToken(dir);
  if (!info || !token) {
    throw new DaemonUnreachableError(
      `no graylane daemon has run with state dir ${dir}. Start one with \`graylane up -f graylane.yaml\`, or point at its state dir with --state-dir or GRAYLANE_STATE_DIR.`,
    );
  }
  return new ApiClient(info.apiUrl, token, info, { startCommand: startCommand(dir, info.appFile) });
}

