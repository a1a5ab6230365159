/**
 * `amphora sync DIR`: uploads a run recorded offline (Python `init(mode="offline")`), as W&B's
 * `wandb sync` does. Events are applied in order; sync.json in the folder counts the applied
 * ones, so a sync that failed half-way resumes where it stopped and a second sync changes nothing.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactVersion, ManifestWire, Run } from '../core/api.js';
import type { Client } from '../client/client.js';
import { uploadMissing } from '../client/transfer.js';
import { AmphoraError } from '../core/errors.js';
import { OfflineEvent, OfflineRunRecord, SyncProgress } from '../core/offlineRun.js';

export interface SyncResult {
  run: Run;
  dir: string;
  applied: number;
  alreadySynced: boolean;
  artifacts: string[];
}

export async function syncOfflineRun(client: Client, dir: string): Promise<SyncResult> {
  const record = await readRecord(dir);
  const events = await readEvents(dir);
  const progress = await readProgress(dir);
  const entity = record.entity ?? client.entity;
  const project = record.project;
  const { format: _format, entity: _entity, project: _project, ...create } = record;
  // Creating a run with an existing id returns that run, so a resumed sync finds it again.
  let run = await client.http.createRun(entity, project, create);
  const artifacts: string[] = [];
  const start = progress?.applied ?? 0;
  for (let i = start; i < events.length; i++) {
    const ev = events[i];
    if (ev.op === 'patch') run = await client.http.updateRun(entity, project, run.id, ev.body);
    else if (ev.op === 'history') {
      for (let j = 0; j < ev.rows.length; j += 10_000) await client.http.appendHistory(entity, project, run.id, { rows: ev.rows.slice(j, j + 10_000) });
    } else if (ev.op === 'files') {
      await uploadMissing(client, ev.files.map((f) => ({ digest: f.digest, size: f.size, path: blobPath(dir, f.digest) })));
      await client.http.putRunFiles(entity, project, run.id, { files: ev.files });
    } else {
      const v = await logArtifact(client, dir, entity, project, run.id, ev);
      artifacts.push(`${v.project}/${v.name}:${v.version}`);
    }
    await writeProgress(dir, { applied: i + 1, run: `${entity}/${project}/${run.id}` });
  }
  if (start >= events.length) run = await client.http.getRun(entity, project, run.id);
  else if (run.state === 'running') run = await client.http.updateRun(entity, project, run.id, { state: 'failed' }); // the process never finished it
  return { run, dir, applied: events.length - start, alreadySynced: start >= events.length && progress !== undefined, artifacts };
}

async function logArtifact(client: Client, dir: string, entity: string, project: string, runId: string, ev: Extract<OfflineEvent, { op: 'artifact' }>): Promise<ArtifactVersion> {
  let manifest: ManifestWire = ev.manifest;
  if (ev.incremental) {
    const base = await client.http.manifest(entity, project, ev.name, 'latest').catch((e: unknown) => {
      if (e instanceof AmphoraError && e.code === 'not_found') return undefined;
      throw e;
    });
    if (base) manifest = { ...base.entries, ...manifest };
  }
  const blobs = Object.values(ev.manifest).filter((e) => !e.ref);
  await uploadMissing(client, blobs.map((e) => ({ digest: e.digest, size: e.size, path: blobPath(dir, e.digest) })));
  const { version } = await client.http.commitVersion(entity, project, ev.name, {
    type: ev.type,
    manifest,
    description: ev.description ?? undefined,
    metadata: ev.metadata,
    aliases: ev.aliases,
    tags: ev.tags,
    ttlSeconds: ev.ttlSeconds,
    runId: ev.use ? undefined : runId,
    callSite: ev.use ? undefined : ev.callSite,
  });
  if (ev.use) await client.http.useArtifact(entity, project, runId, `${entity}/${project}/${version.name}:${version.version}`, ev.callSite);
  return version;
}

function blobPath(dir: string, digest: string): string {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new AmphoraError('invalid_manifest', `Offline run ${dir} names blob "${digest.slice(0, 80)}", which is not a SHA-256 digest; the folder is damaged.`);
  return path.join(dir, 'blobs', digest);
}

async function readRecord(dir: string): Promise<OfflineRunRecord> {
  const file = path.join(dir, 'run.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new AmphoraError('not_found', `${dir} is not an offline run folder (it has no run.json). Pass a folder such as amphora/offline-run-20260101_120000-abc123 that a script run with init(mode="offline") wrote.`);
  }
  const parsed = OfflineRunRecord.safeParse(safeJson(text, file));
  if (!parsed.success) throw new AmphoraError('invalid_request', `${file} is not a run record this version can sync: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}.`);
  return parsed.data;
}

async function readEvents(dir: string): Promise<OfflineEvent[]> {
  const file = path.join(dir, 'events.jsonl');
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n');
  const out: OfflineEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const parsed = OfflineEvent.safeParse(safeJson(lines[i], `${file} line ${i + 1}`));
    if (!parsed.success) {
      // A last line cut off by a killed process is skipped; damage anywhere else stops the sync.
      if (i === lines.length - 1 || (i === lines.length - 2 && !lines[i + 1])) break;
      throw new AmphoraError('invalid_request', `${file} line ${i + 1} is not an event this version can sync (${parsed.error.issues[0]?.message ?? 'invalid'}); nothing after it was synced.`);
    }
    out.push(parsed.data);
  }
  return out;
}

function safeJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { invalidJsonAt: where };
  }
}

async function readProgress(dir: string): Promise<SyncProgress | undefined> {
  try {
    const parsed = SyncProgress.safeParse(JSON.parse(await readFile(path.join(dir, 'sync.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function writeProgress(dir: string, p: SyncProgress): Promise<void> {
  const file = path.join(dir, 'sync.json');
  await writeFile(file + '.tmp', JSON.stringify(p) + '\n');
  await rename(file + '.tmp', file);
}
