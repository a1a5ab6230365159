/**
 * Team-mode replicas as separate server processes (`node dist/server.mjs --db … --blobs …`) on
 * one test database and one shared blob folder, as several `amphora serve` behind a load balancer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onListening } from './serverLines.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const TEAM_KEY = `amp_team_test_${'x'.repeat(32)}`;

export interface Replica {
  url: string;
  pid: number;
  child: ChildProcess;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Team {
  db: TestDatabase;
  blobDir: string;
  replicas: Replica[];
  start(extraArgs?: string[]): Promise<Replica>;
  close(): Promise<void>;
}

export function startReplica(dbUrl: string, blobDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<Replica> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--db', dbUrl, '--blobs', `file:${blobDir}`, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AMPHORA_BOOTSTRAP_KEY: TEAM_KEY, ...env },
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start within 60 s: ${err}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`replica exited ${code}: ${err}`)));
    onListening(child.stdout!, (line) => {
      clearTimeout(timer);
      const msg = JSON.parse(line) as { event: string; url: string; pid: number };
      resolve({
        url: msg.url,
        pid: msg.pid,
        child,
        stderr: () => err,
        async kill(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}

/** A fresh database + blob folder and `n` replicas on them. */
export async function startTeam(n: number, extraArgs: string[] = []): Promise<Team> {
  const db = await createTestDatabase('amphora_team');
  const blobDir = mkdtempSync(join(tmpdir(), 'amphora-team-blobs-'));
  const replicas: Replica[] = [];
  const team: Team = {
    db,
    blobDir,
    replicas,
    async start(args = extraArgs) {
      const r = await startReplica(db.url, blobDir, args);
      replicas.push(r);
      return r;
    },
    async close() {
      await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
      await db.drop();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
  try {
    // Started together: they race to migrate the fresh database.
    await Promise.all(Array.from({ length: n }, () => team.start()));
  } catch (e) {
    await team.close();
    throw e;
  }
  return team;
}
