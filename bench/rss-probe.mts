/** Server RSS on a fresh data dir and on an existing one (same dir, second start), from /proc. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServerProcess } from './server-process.js';

const base = mkdtempSync(path.join(tmpdir(), 'amphora-rss-'));
const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
for (const what of ['fresh data dir', 'existing data dir']) {
  const s = await startServerProcess(path.join(base, 'data'));
  const atStart = s.rssKiB();
  await new Promise((r) => setTimeout(r, 3000));
  console.log(`${what}: RSS ${mib(atStart)} at listening, ${mib(s.rssKiB())} after 3 s idle`);
  await s.stop();
}
rmSync(base, { recursive: true, force: true });
