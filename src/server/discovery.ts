import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Discovery, DISCOVERY_FILE } from '../core/node/config.js';

/** `<dataDir>/server.json` (mode 0600): how local clients find this server and its key. */
export function writeDiscovery(dataDir: string, d: Discovery): void {
  const path = join(dataDir, DISCOVERY_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(Discovery.parse(d), null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Removes the discovery file if it still describes this process. */
export function removeDiscovery(dataDir: string): void {
  const path = join(dataDir, DISCOVERY_FILE);
  try {
    const d = Discovery.parse(JSON.parse(readFileSync(path, 'utf8')));
    if (d.pid !== process.pid) return;
  } catch {
    return;
  }
  rmSync(path, { force: true });
}
