/**
 * Runs that never talk to a server, as W&B's `init({mode})` allows:
 * - `offline`: everything the run does is appended to a run folder in the format of
 *   core/offlineRun.ts (the Python client writes the same one), uploaded later by `amphora sync DIR`;
 * - `disabled`: every call is a no-op that still returns working objects (W&B's testing mode).
 * A Run holds one of these instead of a server connection and hands it what it would have sent.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HistoryRow, Run as RunInfo, UpdateRunRequest } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { validateAlias } from '../core/names.js';
import { OFFLINE_FORMAT, OfflineEvent, OfflineRunRecord } from '../core/offlineRun.js';
import { validateManifestPath } from '../core/paths.js';
import { parseReference } from '../core/reference.js';
import type { z } from 'zod';
import { Artifact, draftContents } from './artifact.js';
import type { Client } from './client.js';
import { hashFile } from './hash.js';

export type RunMode = 'online' | 'offline' | 'disabled';
const MODES: readonly string[] = ['online', 'offline', 'disabled', 'shared'];

/** `init({mode})`, else AMPHORA_MODE, else WANDB_MODE (as the Python client reads them); "shared" is online. */
export function runMode(mode: string | undefined, env: NodeJS.ProcessEnv = process.env): RunMode {
  const m = mode ?? (env.AMPHORA_MODE || env.WANDB_MODE || 'online');
  if (!MODES.includes(m)) {
    const from = mode !== undefined ? 'init({ mode })' : env.AMPHORA_MODE ? 'AMPHORA_MODE' : 'WANDB_MODE';
    throw new AmphoraError('invalid_request', `${from} must be "online", "offline" or "disabled", got ${JSON.stringify(m)}.`);
  }
  return m === 'shared' ? 'online' : (m as RunMode);
}

/** What a Run without a server does instead of each server call. */
export interface LocalRun {
  readonly mode: 'offline' | 'disabled';
  /** The offline run folder (what to pass to `amphora sync`); null when disabled. */
  readonly dir: string | null;
  appendHistory(rows: z.infer<typeof HistoryRow>[]): Promise<void>;
  update(body: z.infer<typeof UpdateRunRequest>): Promise<void>;
  saveFile(localPath: string, name: string): Promise<void>;
  logArtifact(a: Artifact, aliases: string[], tags: string[]): Promise<Artifact>;
  useArtifact(ref: string | Artifact, type: string | undefined): Promise<Artifact>;
  /** upsert/finish, link, logged/used artifacts, use by name: what needs a server. */
  needsServer(what: string): void;
}

export const newRunId = (): string => randomBytes(4).toString('hex');

/** `<dir>/amphora/offline-run-<YYYYmmdd_HHMMSS>-<id>`, the Python client's folder name. */
export function offlineFolder(baseDir: string | undefined, runId: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return path.resolve(baseDir ?? process.cwd(), 'amphora', `offline-run-${stamp}-${runId}`);
}

/** A run's synthetic server record (what `init` would have got back). */
export function localRunInfo(record: { id: string; entity: string; project: string; name: string; jobType?: string; group?: string; config?: unknown; tags?: string[]; notes?: string }): RunInfo {
  const now = new Date().toISOString();
  return {
    entity: record.entity,
    project: record.project,
    id: record.id,
    name: record.name,
    jobType: record.jobType ?? null,
    group: record.group ?? null,
    state: 'running',
    config: (record.config ?? {}) as RunInfo['config'],
    summary: {},
    tags: record.tags ?? [],
    notes: record.notes ?? null,
    provenance: null,
    createdAt: now,
    updatedAt: now,
    heartbeatAt: now,
    finishedAt: null,
  };
}

/**
 * The `client` of a run without a server: any use says why it cannot work (the Run itself never
 * reaches it; this guards code that takes `run.client` to call the server directly).
 */
export function noServer(mode: 'offline' | 'disabled', dir?: string): Client {
  return new Proxy({} as Client, {
    get(_target, prop) {
      if (prop === 'then' || typeof prop === 'symbol') return undefined; // not a promise, not iterable
      throw new AmphoraError(
        'unsupported',
        `run.client.${String(prop)} needs the Amphora server, but this run is ${mode}${dir ? ` (sync it with \`amphora sync ${dir}\`, then use new Api())` : ''}.`,
      );
    },
  });
}

const uniqueAliases = (aliases: string[]) => [...new Set(aliases.filter((a) => a !== 'latest').map(validateAlias))];

export class OfflineRecorder implements LocalRun {
  readonly mode = 'offline' as const;
  /** Events are appended one at a time, in call order. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string) {}

  /** Creates the run folder and writes run.json. */
  static async create(dir: string, record: Omit<OfflineRunRecord, 'format'>): Promise<OfflineRecorder> {
    const full = OfflineRunRecord.parse({ ...record, format: OFFLINE_FORMAT });
    await mkdir(path.join(dir, 'blobs'), { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify(full, null, 2) + '\n');
    return new OfflineRecorder(dir);
  }

  private record(event: OfflineEvent): Promise<void> {
    // Checked against the schema sync reads, so what is written here is what sync can upload.
    const line = JSON.stringify(OfflineEvent.parse(event)) + '\n';
    const next = this.writes.then(() => appendFile(path.join(this.dir, 'events.jsonl'), line));
    this.writes = next.catch(() => {});
    return next;
  }

  /**
   * Copies a file into blobs/ by content. The copy is what gets hashed, so a file edited while
   * it is kept never yields bytes that differ from their recorded digest.
   */
  private async keep(localPath: string): Promise<{ digest: string; size: number }> {
    const tmp = path.join(this.dir, 'blobs', `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await copyFile(localPath, tmp);
    } catch (e) {
      throw new AmphoraError('invalid_path', `Cannot read ${localPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it was moved or deleted after being added.`);
    }
    const h = await hashFile(tmp);
    await rename(tmp, path.join(this.dir, 'blobs', h.digest));
    return { digest: h.digest, size: h.size };
  }

  appendHistory(rows: z.infer<typeof HistoryRow>[]): Promise<void> {
    return rows.length ? this.record({ op: 'history', rows }) : Promise.resolve();
  }

  update(body: z.infer<typeof UpdateRunRequest>): Promise<void> {
    return this.record({ op: 'patch', body });
  }

  async saveFile(localPath: string, name: string): Promise<void> {
    validateManifestPath(name);
    const { digest, size } = await this.keep(localPath);
    await this.record({ op: 'files', files: [{ path: name, digest, size }] });
  }

  async logArtifact(a: Artifact, aliases: string[], tags: string[], use = false): Promise<Artifact> {
    const draft = draftContents(a, 'logArtifact');
    const manifest: Record<string, { digest: string; size: number; ref?: string; extra?: Record<string, unknown> }> = {};
    for (const [logical, s] of draft.staged) manifest[logical] = s.entry ? { ...s.entry } : await this.keep(s.localPath!);
    const allTags = [...new Set([...a.tags, ...tags])];
    await this.record({
      op: 'artifact',
      name: a.collectionName,
      type: a.type,
      manifest,
      description: a.description,
      metadata: a.metadata as Record<string, never>,
      aliases: uniqueAliases([...aliases, ...a.aliases]),
      ...(allTags.length ? { tags: allTags } : {}),
      ...(a.ttlSeconds !== null ? { ttlSeconds: a.ttlSeconds } : {}),
      use,
    });
    a.tags = allTags;
    return a;
  }

  async useArtifact(ref: string | Artifact): Promise<Artifact> {
    if (typeof ref !== 'string' && !ref.logged) return this.logArtifact(ref, [], [], true);
    const name = typeof ref === 'string' ? ref : ref.qualifiedName();
    throw new AmphoraError('unsupported', `useArtifact(${JSON.stringify(name)}) needs the server to find that version, but the run is offline. Run online to use logged artifacts (an offline run can use an Artifact it builds).`);
  }

  needsServer(what: string): void {
    throw new AmphoraError('unsupported', `${what} needs the Amphora server, but the run is offline (init({ mode: 'offline' })). Sync it with \`amphora sync ${this.dir}\`, then do this through new Api().`);
  }
}

/** init({ mode: 'disabled' }): nothing is stored anywhere; artifacts stay drafts. */
export class DisabledRecorder implements LocalRun {
  readonly mode = 'disabled' as const;
  readonly dir = null;
  async appendHistory(): Promise<void> {}
  async update(): Promise<void> {}
  async saveFile(): Promise<void> {}
  async logArtifact(a: Artifact): Promise<Artifact> {
    return a;
  }
  async useArtifact(ref: string | Artifact, type: string | undefined): Promise<Artifact> {
    return typeof ref === 'string' ? new Artifact(parseReference(ref).name, type ?? 'unspecified') : ref;
  }
  needsServer(): void {}
}
