/**
 * Run: one execution of a pipeline step. Inputs (`useArtifact`) and outputs (`logArtifact`) become
 * lineage edges; metrics are batched into history; a heartbeat keeps it `running` until `finish()`.
 */
import { basename, resolve } from 'node:path';
import { HEARTBEAT_INTERVAL_MS, type Run as RunInfo } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { validateEntity, validateJobType, validateProject } from '../core/names.js';
import { formatReference, parseReference } from '../core/reference.js';
import { Artifact } from './artifact.js';
import { Client, defaultClient, type ClientOptions } from './client.js';
import type { ProgressFn } from './transfer.js';
import { uploadMissing } from './transfer.js';
import { rememberInit } from './sessionDefaults.js';

export interface InitOptions {
  project?: string;
  entity?: string;
  jobType?: string;
  config?: Record<string, unknown>;
  group?: string;
  name?: string;
  /** Letters, digits, `-` and `_` (as W&B accepts). */
  id?: string;
  /** Stored on the run (W&B's `tags` and `notes`). */
  tags?: string[];
  notes?: string;
  /** Connect with these instead of the environment / discovery file. */
  client?: Client;
  connection?: ClientOptions;
}

const HISTORY_FLUSH_MS = 1_000;
const HISTORY_BATCH = 500;

export class Run {
  readonly id: string;
  readonly name: string;
  readonly entity: string;
  readonly project: string;
  readonly jobType: string | null;
  readonly group: string | null;
  /** Run configuration; changes are sent with `updateConfig` or at `finish()`. */
  config: Record<string, unknown>;
  /** Summary metrics; `log()` keeps the latest value of each key here. Sent at flush/finish. */
  summary: Record<string, unknown>;
  state: RunInfo['state'];

  private step = 0;
  private history: { step: number; data: Record<string, unknown>; at: string }[] = [];
  private historyTimer?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private finished = false;
  private pendingFlush: Promise<void> = Promise.resolve();

  /** @internal use init() */
  constructor(
    readonly client: Client,
    info: RunInfo,
  ) {
    this.id = info.id;
    this.name = info.name;
    this.entity = info.entity;
    this.project = info.project;
    this.jobType = info.jobType;
    this.group = info.group;
    this.config = { ...info.config };
    this.summary = { ...info.summary };
    this.state = info.state;
    this.heartbeat = setInterval(() => {
      client.http.heartbeat(this.entity, this.project, this.id).catch(() => {});
    }, HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }

  /** `entity/project/id` */
  get path(): string {
    return `${this.entity}/${this.project}/${this.id}`;
  }

  private requireActive(what: string) {
    if (this.finished) throw new AmphoraError('invalid_request', `${what}: run ${this.name} (${this.id}) is already finished; start a new run with init().`);
  }

  /** Fully qualified reference string, filling entity and project from this run. */
  private qualify(ref: string): string {
    const r = parseReference(ref);
    return formatReference({ entity: r.entity ?? this.entity, project: r.project ?? this.project, name: r.name, selector: r.selector });
  }

  /** Declares an input (idempotent) and returns the used version. */
  async useArtifact(ref: string | Artifact, opts: { type?: string } = {}): Promise<Artifact> {
    this.requireActive('useArtifact');
    let refText: string;
    if (typeof ref === 'string') refText = this.qualify(ref);
    else if (ref.logged) refText = ref.qualifiedName();
    else {
      // An unlogged artifact: log it first (wandb does the same), then use it.
      await this.logArtifact(ref);
      refText = ref.qualifiedName();
    }
    const v = await this.client.http.useArtifact(this.entity, this.project, this.id, refText);
    if (opts.type && v.type !== opts.type) {
      throw new AmphoraError('type_mismatch', `${refText} has type "${v.type}", not "${opts.type}"; check the name or the expected type.`);
    }
    return Artifact.fromVersion(this.client, v);
  }

  /** Logs an output version; returns the same Artifact, now carrying version, digest and aliases. */
  async logArtifact(artifact: Artifact, opts: { aliases?: string[]; tags?: string[]; onProgress?: ProgressFn } = {}): Promise<Artifact> {
    this.requireActive('logArtifact');
    return artifact.commit(this.client, { project: this.project, entity: this.entity, runId: this.id, aliases: opts.aliases, tags: opts.tags, onProgress: opts.onProgress });
  }

  private distributedId(opts: { distributedId?: string }, what: string): string {
    const id = opts.distributedId ?? this.group;
    if (!id) throw new AmphoraError('invalid_request', `${what} needs a distributed id: start the runs with init({ group: "..." }) or pass { distributedId }.`);
    return id;
  }

  /** Adds files to the group's shared pending version (distributed logging). */
  async upsertArtifact(artifact: Artifact, opts: { distributedId?: string } = {}): Promise<Artifact> {
    this.requireActive('upsertArtifact');
    await artifact.upsertPending(this.client, this.distributedId(opts, 'upsertArtifact'), { project: this.project, entity: this.entity, runId: this.id });
    return artifact;
  }

  /** Adds this run's files (if any) and commits the group's pending version. */
  async finishArtifact(artifact: Artifact, opts: { distributedId?: string; aliases?: string[] } = {}): Promise<Artifact> {
    this.requireActive('finishArtifact');
    const id = this.distributedId(opts, 'finishArtifact');
    const common = { project: this.project, entity: this.entity, runId: this.id };
    if (artifact.stagedPaths().length) await artifact.upsertPending(this.client, id, common);
    return artifact.finishPending(this.client, id, { ...common, aliases: opts.aliases });
  }

  /** Appends metrics to history (batched) and keeps the latest values in the summary. */
  log(data: Record<string, unknown>, opts: { step?: number } = {}): void {
    this.requireActive('log');
    const step = opts.step ?? this.step;
    if (!Number.isInteger(step) || step < 0) throw new AmphoraError('invalid_request', `log: step ${String(step)} must be a whole number ≥ 0.`);
    this.step = Math.max(this.step, step + 1);
    this.history.push({ step, data: { ...data }, at: new Date().toISOString() });
    Object.assign(this.summary, data);
    if (this.history.length >= HISTORY_BATCH) void this.flush();
    else this.historyTimer ??= setTimeout(() => void this.flush(), HISTORY_FLUSH_MS).unref();
  }

  /** Sends buffered history now. */
  flush(): Promise<void> {
    clearTimeout(this.historyTimer);
    this.historyTimer = undefined;
    const rows = this.history.splice(0);
    if (!rows.length) return this.pendingFlush;
    this.pendingFlush = this.pendingFlush.then(async () => {
      for (let i = 0; i < rows.length; i += 10_000) {
        await this.client.http.appendHistory(this.entity, this.project, this.id, { rows: rows.slice(i, i + 10_000) });
      }
    });
    return this.pendingFlush;
  }

  async updateConfig(values: Record<string, unknown>): Promise<void> {
    Object.assign(this.config, values);
    await this.client.http.updateRun(this.entity, this.project, this.id, { config: values });
  }

  async updateSummary(values: Record<string, unknown>): Promise<void> {
    Object.assign(this.summary, values);
    await this.client.http.updateRun(this.entity, this.project, this.id, { summary: values });
  }

  /** Uploads a file and attaches it to the run (by base name). */
  async save(path: string, opts: { name?: string } = {}): Promise<void> {
    this.requireActive('save');
    const abs = resolve(path);
    const h = await this.client.statCache.digest(abs).catch(() => {
      throw new AmphoraError('invalid_path', `Cannot save ${abs}: it does not exist or cannot be read.`);
    });
    await uploadMissing(this.client, [{ digest: h.digest, size: h.size, path: abs }]);
    await this.client.http.putRunFiles(this.entity, this.project, this.id, { files: [{ path: opts.name ?? basename(abs), digest: h.digest, size: h.size }] });
  }

  async usedArtifacts(): Promise<Artifact[]> {
    return (await this.client.http.runInputs(this.entity, this.project, this.id)).items.map((v) => Artifact.fromVersion(this.client, v));
  }

  async loggedArtifacts(): Promise<Artifact[]> {
    return (await this.client.http.runOutputs(this.entity, this.project, this.id)).items.map((v) => Artifact.fromVersion(this.client, v));
  }

  /** Sends history, config and summary and marks the run finished (or failed). */
  async finish(opts: { failed?: boolean } = {}): Promise<void> {
    if (this.finished) return;
    clearInterval(this.heartbeat);
    try {
      await this.flush();
    } finally {
      this.finished = true;
      const info = await this.client.http.updateRun(this.entity, this.project, this.id, {
        config: this.config,
        summary: this.summary,
        state: opts.failed ? 'failed' : 'finished',
      });
      this.state = info.state;
    }
  }

  /** Runs `fn` with this run and finishes it: `failed` when `fn` throws. */
  async with<T>(fn: (run: Run) => Promise<T>): Promise<T> {
    try {
      const out = await fn(this);
      await this.finish();
      return out;
    } catch (e) {
      await this.finish({ failed: true }).catch(() => {});
      throw e;
    }
  }
}

/** Starts a run in `project` (default AMPHORA_PROJECT or the server's default project). */
export async function init(opts: InitOptions = {}): Promise<Run> {
  const client = opts.client ?? (opts.connection ? await Client.connect(opts.connection) : await defaultClient());
  const project = opts.project ? validateProject(opts.project) : client.defaultProject;
  const entity = opts.entity ? validateEntity(opts.entity) : client.entity;
  const info = await client.http.createRun(entity, project, {
    id: opts.id,
    name: opts.name,
    jobType: opts.jobType ? validateJobType(opts.jobType) : undefined,
    group: opts.group,
    config: opts.config,
    tags: opts.tags,
    notes: opts.notes,
  });
  rememberInit(entity, project);
  return new Run(client, info);
}
