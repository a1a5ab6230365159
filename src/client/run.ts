/**
 * Run: one execution of a pipeline step. Inputs (`useArtifact`) and outputs (`logArtifact`) become
 * lineage edges; metrics are batched into history; a heartbeat keeps it `running` until `finish()`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { HEARTBEAT_INTERVAL_MS, type CallSite, type Provenance, type Run as RunInfo } from '../core/api.js';
import { toMetricValue } from '../core/downsample.js';
import { AmphoraError } from '../core/errors.js';
import { validateEntity, validateJobType, validateProject } from '../core/names.js';
import { formatReference, parseReference } from '../core/reference.js';
import { Artifact } from './artifact.js';
import { Client, defaultClient, type ClientOptions } from './client.js';
import type { ProgressFn } from './transfer.js';
import { uploadMissing } from './transfer.js';
import { rememberInit } from './sessionDefaults.js';
import { callerSite, captureProvenance, DIFF_FILE } from './provenance.js';

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
  /**
   * Record code provenance (program, git commit, branch, remote, dirty flag and diff) and the
   * lines that log and use artifacts. Default true.
   */
  captureCode?: boolean;
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
  /** What the run recorded about its code at `init` (null when not recorded). */
  readonly provenance: Provenance | null;

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
    this.provenance = info.provenance ?? null;
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
    const site = this.callSite();
    this.requireActive('useArtifact');
    let refText: string;
    if (typeof ref === 'string') refText = this.qualify(ref);
    else if (ref.logged) refText = ref.qualifiedName();
    else {
      // An unlogged artifact: log it first (wandb does the same), then use it.
      await this.logArtifact(ref);
      refText = ref.qualifiedName();
    }
    const v = await this.client.http.useArtifact(this.entity, this.project, this.id, refText, site);
    if (opts.type && v.type !== opts.type) {
      throw new AmphoraError('type_mismatch', `${refText} has type "${v.type}", not "${opts.type}"; check the name or the expected type.`);
    }
    return Artifact.fromVersion(this.client, v);
  }

  /** Logs an output version; returns the same Artifact, now carrying version, digest and aliases. */
  async logArtifact(artifact: Artifact, opts: { aliases?: string[]; tags?: string[]; onProgress?: ProgressFn } = {}): Promise<Artifact> {
    const callSite = this.callSite();
    this.requireActive('logArtifact');
    return artifact.commit(this.client, { project: this.project, entity: this.entity, runId: this.id, aliases: opts.aliases, tags: opts.tags, onProgress: opts.onProgress, callSite });
  }

  /** The user's line calling the SDK right now (taken before any await, while it is on the stack). */
  private callSite(): CallSite | undefined {
    return this.provenance ? callerSite(this.provenance.root) : undefined;
  }

  private distributedId(opts: { distributedId?: string }, what: string): string {
    const id = opts.distributedId ?? this.group;
    if (!id) throw new AmphoraError('invalid_request', `${what} needs a distributed id: start the runs with init({ group: "..." }) or pass { distributedId }.`);
    return id;
  }

  /** Adds files to the group's shared pending version (distributed logging). */
  async upsertArtifact(artifact: Artifact, opts: { distributedId?: string } = {}): Promise<Artifact> {
    const callSite = this.callSite();
    this.requireActive('upsertArtifact');
    await artifact.upsertPending(this.client, this.distributedId(opts, 'upsertArtifact'), { project: this.project, entity: this.entity, runId: this.id, callSite });
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
    // JSON has no NaN or infinities: they travel as the strings the server and charts read back.
    this.history.push({ step, data: wireValues(data), at: new Date().toISOString() });
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

  /** @internal Uploads bytes and attaches them as the run file `name`. */
  async saveBytes(name: string, bytes: Buffer): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'amphora-run-file-'));
    try {
      const file = join(dir, 'bytes');
      await writeFile(file, bytes);
      await this.save(file, { name });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
  const code = opts.captureCode === false ? null : await captureProvenance();
  const info = await client.http.createRun(entity, project, {
    provenance: code?.provenance,
    id: opts.id,
    name: opts.name,
    jobType: opts.jobType ? validateJobType(opts.jobType) : undefined,
    group: opts.group,
    config: opts.config,
    tags: opts.tags,
    notes: opts.notes,
  });
  rememberInit(entity, project);
  const run = new Run(client, info);
  if (code?.diff) await run.saveBytes(DIFF_FILE, code.diff).catch((e: Error) => process.emitWarning(`amphora: could not save the git diff of run ${run.id}: ${e.message}`));
  return run;
}

/** Non-finite numbers as "NaN" / "Infinity" / "-Infinity", at any depth; everything else unchanged. */
function wireValues(data: Record<string, unknown>): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isFinite(v) ? v : toMetricValue(v);
    if (Array.isArray(v)) return v.map(conv);
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    return v;
  };
  return conv(data) as Record<string, unknown>;
}
