/**
 * Run: one execution of a pipeline step. Inputs (`useArtifact`) and outputs (`logArtifact`) become
 * lineage edges; metrics are batched into history; a heartbeat keeps it `running` until `finish()`.
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CreateRunRequest, HEARTBEAT_INTERVAL_MS, MAX_HISTORY_BATCH, type CallSite, type Provenance, type Run as RunInfo, type UpdateRunRequest } from '../core/api.js';
import { DEFAULT_PROJECT } from '../core/defaults.js';
import type { z } from 'zod';
import { REGISTRY_PREFIX } from '../core/registry.js';
import { MetricSummaries, type DefineMetricOptions, type MetricDefinition } from '../core/metricSummary.js';
import { AmphoraError } from '../core/errors.js';
import { validateEntity, validateJobType, validateProject } from '../core/names.js';
import { formatReference, parseReference } from '../core/reference.js';
import { Artifact, finishPendingVersion, logVersion, upsertPendingVersion } from './artifact.js';
import { Client, defaultClient, type ClientOptions } from './client.js';
import type { ProgressFn } from './transfer.js';
import { uploadMissing } from './transfer.js';
import { rememberInit } from './sessionDefaults.js';
import { DisabledRecorder, localRunInfo, newRunId, noServer, offlineFolder, OfflineRecorder, runMode, type LocalRun, type RunMode } from './localRun.js';
import { callerSite, captureProvenance, DIFF_FILE } from './provenance.js';
import { encodeColumns, rowsOf, type PendingRow } from './historyColumns.js';

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
  /**
   * W&B's modes: "online" (default), "offline" (recorded in `<dir>/amphora/offline-run-…` for
   * `amphora sync DIR`, no server needed) or "disabled" (every call a no-op that returns working
   * objects). Default: AMPHORA_MODE, else WANDB_MODE, else online.
   */
  mode?: 'online' | 'offline' | 'disabled';
  /** Where an offline run's folder goes (default: the working directory). */
  dir?: string;
  /** Connect with these instead of the environment / discovery file. */
  client?: Client;
  connection?: ClientOptions;
}

type UpdateRunBody = z.infer<typeof UpdateRunRequest>;

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

  /** The current step: its row collects data until it is committed. */
  private step = 0;
  private pendingRow: Record<string, unknown> = {};
  private readonly metrics = new MetricSummaries();
  /** Committed rows not yet taken by the server (sent from the front). */
  private history: PendingRow[] = [];
  private historyError?: Error;
  private historyTimer?: NodeJS.Timeout;
  private readonly heartbeat?: NodeJS.Timeout;
  /** Offline or disabled: where calls go instead of the server (undefined: online). */
  private readonly local?: LocalRun;
  readonly mode: RunMode;
  /** An offline run's folder, for `amphora sync`; null otherwise. */
  readonly dir: string | null;
  private finished = false;
  private pendingFlush: Promise<void> = Promise.resolve();

  /** @internal use init() */
  constructor(
    readonly client: Client,
    info: RunInfo,
    local?: LocalRun,
  ) {
    this.local = local;
    this.mode = local?.mode ?? 'online';
    this.dir = local?.dir ?? null;
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
    if (local) return; // nobody to beat to
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
    if (this.local) return this.local.useArtifact(ref, opts.type);
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
    if (this.local) return this.local.logArtifact(artifact, opts.aliases ?? [], opts.tags ?? []);
    return logVersion(artifact, this.client, { project: this.project, entity: this.entity, runId: this.id, aliases: opts.aliases, tags: opts.tags, onProgress: opts.onProgress, callSite });
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
    this.local?.needsServer('upsertArtifact (distributed versions are shared on the server)');
    if (this.local) return artifact;
    await upsertPendingVersion(artifact, this.client, this.distributedId(opts, 'upsertArtifact'), { project: this.project, entity: this.entity, runId: this.id, callSite });
    return artifact;
  }

  /** Adds this run's files (if any) and commits the group's pending version. */
  async finishArtifact(artifact: Artifact, opts: { distributedId?: string; aliases?: string[] } = {}): Promise<Artifact> {
    this.requireActive('finishArtifact');
    this.local?.needsServer('finishArtifact (distributed versions are shared on the server)');
    if (this.local) return artifact;
    const id = this.distributedId(opts, 'finishArtifact');
    const common = { project: this.project, entity: this.entity, runId: this.id };
    if (artifact.stagedPaths().length) await upsertPendingVersion(artifact, this.client, id, common);
    return finishPendingVersion(artifact, this.client, id, { ...common, aliases: opts.aliases });
  }

  /**
   * W&B's step rules: data joins the current step's row; `commit` (default true without `step`,
   * false with it) closes the row and moves to the next step. A larger `step` closes the current
   * row first; a smaller one is dropped with a warning. Summaries follow `defineMetric`.
   */
  log(data: Record<string, unknown>, opts: { step?: number; commit?: boolean } = {}): void {
    this.requireActive('log');
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new AmphoraError('invalid_request', `log expects an object of metrics such as {loss: 0.3}, got ${Array.isArray(data) ? 'an array' : typeof data}.`);
    }
    const { step } = opts;
    if (step !== undefined) {
      if (!Number.isInteger(step) || step < 0) throw new AmphoraError('invalid_request', `log: step must be a whole number ≥ 0, got ${String(step)}.`);
      if (step < this.step) {
        process.emitWarning(`amphora: tried to log to step ${step}, which is less than the current step ${this.step}. Steps must increase, so this data is ignored: ${Object.keys(data).join(', ')}`);
        return;
      }
      if (step > this.step) {
        this.commitStep();
        this.step = step;
      }
    }
    Object.assign(this.pendingRow, data);
    if (opts.commit ?? step === undefined) {
      this.commitStep();
      this.step += 1;
    }
  }

  /** W&B's `define_metric`: what the summary keeps for `name` (or a glob such as "val/*") and its step metric. */
  defineMetric(name: string, opts: DefineMetricOptions & { hidden?: boolean } = {}): MetricDefinition {
    if (opts.hidden) throw new AmphoraError('unsupported', 'defineMetric({hidden: true}) is not supported by Amphora: every logged metric is shown; leave hidden out.');
    return this.metrics.define(name, opts);
  }

  /** Closes the current step's row (if it has data) and hands it to the history batcher. */
  private commitStep(): void {
    if (!Object.keys(this.pendingRow).length) return;
    const row = this.metrics.syncSteps(this.pendingRow);
    this.pendingRow = {};
    this.history.push({ step: this.step, time: Date.now(), data: row });
    Object.assign(this.summary, this.metrics.summarize(row));
    // A server that keeps refusing: say so here rather than buffer without bound (the rows stay buffered).
    if (this.historyError && this.history.length >= HISTORY_BATCH * 20) throw this.historyError;
    if (this.history.length >= HISTORY_BATCH) void this.flush().catch(() => undefined);
    else this.historyTimer ??= setTimeout(() => void this.flush().catch(() => undefined), HISTORY_FLUSH_MS).unref();
  }

  // ------------------------------------------------------------------ registries (W&B's Registry)
  /** Links a version into a registry collection (`wandb-registry-NAME/COLLECTION`); a draft is logged by this run first. */
  async linkArtifact(artifact: Artifact, targetPath: string, opts: { aliases?: string[] } = {}): Promise<Artifact> {
    this.requireActive('linkArtifact');
    this.local?.needsServer(`linkArtifact(…, ${JSON.stringify(targetPath)}) (registries live there)`);
    if (this.local) return artifact;
    if (!artifact.logged) await this.logArtifact(artifact);
    return artifact.link(targetPath, opts);
  }

  /** Logs a model file or folder as an artifact of type "model" (default name `run-<run id>-<file name>`). */
  async logModel(localPath: string, opts: { name?: string; aliases?: string[] } = {}): Promise<Artifact> {
    this.requireActive('logModel');
    const abs = resolve(localPath);
    const model = new Artifact(opts.name ?? `run-${this.id}-${basename(abs)}`, 'model');
    const info = await stat(abs).catch(() => {
      throw new AmphoraError('invalid_path', `logModel: ${abs} does not exist; pass the path of a model file or folder.`);
    });
    if (info.isDirectory()) await model.addDir(abs);
    else await model.addFile(abs);
    return this.logArtifact(model, { aliases: opts.aliases });
  }

  /** Uses and downloads a model artifact; resolves to the path of its only file, or of its folder. */
  async useModel(name: string): Promise<string> {
    this.local?.needsServer(`useModel(${JSON.stringify(name)}) (the model's files are there)`);
    // Disabled: where the model would have been downloaded; nothing is written.
    if (this.local) return resolve('artifacts', parseReference(name).name);
    const model = await this.useArtifact(name);
    if (!model.type.toLowerCase().includes('model')) {
      throw new AmphoraError('type_mismatch', `useModel(${JSON.stringify(name)}): the artifact has type "${model.type}"; useModel is for model artifacts, use useArtifact(...).download() for others.`);
    }
    const { root } = await model.download();
    const entries = await readdir(root);
    return entries.length === 1 ? join(root, entries[0]) : root;
  }

  /** Logs the model at `localPath` and links it into the model registry's collection `registeredModelName`. */
  async linkModel(localPath: string, registeredModelName: string, opts: { name?: string; aliases?: string[] } = {}): Promise<Artifact> {
    if (/[/:]/.test(registeredModelName)) {
      throw new AmphoraError('invalid_request', `linkModel: give only the registered model's name (${JSON.stringify(registeredModelName)} has an entity, project or version in it).`);
    }
    this.local?.needsServer(`linkModel(…, ${JSON.stringify(registeredModelName)}) (registries live there)`);
    const model = await this.logModel(localPath, { name: opts.name });
    return this.linkArtifact(model, `${this.entity}/${REGISTRY_PREFIX}model/${registeredModelName}`, { aliases: opts.aliases });
  }

  /**
   * Sends buffered history now, in order. A batch the server does not take goes back to the
   * front of the buffer (nothing is dropped): the next flush retries it, and this promise (and
   * `finish()`) rejects with the failure.
   */
  flush(): Promise<void> {
    clearTimeout(this.historyTimer);
    this.historyTimer = undefined;
    const send = async () => {
      while (this.history.length) {
        const rows = this.history.slice(0, MAX_HISTORY_BATCH);
        try {
          if (this.local) await this.local.appendHistory(rowsOf(rows));
          else await this.client.http.appendHistory(this.entity, this.project, this.id, { columns: encodeColumns(rows) });
        } catch (e) {
          this.historyError = e instanceof Error ? e : new Error(String(e));
          throw this.historyError;
        }
        this.history.splice(0, rows.length);
        this.historyError = undefined;
      }
    };
    this.pendingFlush = this.pendingFlush.catch(() => undefined).then(send);
    return this.pendingFlush;
  }

  async updateConfig(values: Record<string, unknown>): Promise<void> {
    Object.assign(this.config, values);
    await this.sendUpdate({ config: values as UpdateRunBody['config'] });
  }

  async updateSummary(values: Record<string, unknown>): Promise<void> {
    Object.assign(this.summary, values);
    await this.sendUpdate({ summary: values as UpdateRunBody['summary'] });
  }

  private async sendUpdate(body: UpdateRunBody): Promise<void> {
    if (this.local) await this.local.update(body);
    else this.state = (await this.client.http.updateRun(this.entity, this.project, this.id, body)).state;
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
    if (this.local) return this.local.saveFile(abs, opts.name ?? basename(abs));
    const h = await this.client.statCache.digest(abs).catch(() => {
      throw new AmphoraError('invalid_path', `Cannot save ${abs}: it does not exist or cannot be read.`);
    });
    await uploadMissing(this.client, [{ digest: h.digest, size: h.size, path: abs }]);
    await this.client.http.putRunFiles(this.entity, this.project, this.id, { files: [{ path: opts.name ?? basename(abs), digest: h.digest, size: h.size }] });
  }

  async usedArtifacts(): Promise<Artifact[]> {
    this.local?.needsServer('usedArtifacts()');
    if (this.local) return [];
    return (await this.client.http.runInputs(this.entity, this.project, this.id)).items.map((v) => Artifact.fromVersion(this.client, v));
  }

  async loggedArtifacts(): Promise<Artifact[]> {
    this.local?.needsServer('loggedArtifacts()');
    if (this.local) return [];
    return (await this.client.http.runOutputs(this.entity, this.project, this.id)).items.map((v) => Artifact.fromVersion(this.client, v));
  }

  /** Sends history, config and summary and marks the run finished (or failed). */
  async finish(opts: { failed?: boolean } = {}): Promise<void> {
    if (this.finished) return;
    clearInterval(this.heartbeat);
    try {
      this.commitStep();
      await this.flush();
    } finally {
      this.finished = true;
      const state = opts.failed ? 'failed' : 'finished';
      await this.sendUpdate({ config: this.config as UpdateRunBody['config'], summary: this.summary as UpdateRunBody['summary'], state });
      if (this.local) this.state = state;
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
  const mode = runMode(opts.mode);
  if (mode !== 'online') return initLocal(mode, opts);
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

/**
 * An offline or disabled run: no connection is made. Offline writes run.json now (with the code
 * provenance and git diff an online run would record); the Api default project is left alone, as
 * the Python client does, since nothing is on a server yet.
 */
async function initLocal(mode: 'offline' | 'disabled', opts: InitOptions): Promise<Run> {
  const id = opts.id ?? newRunId();
  const project = validateProject(opts.project ?? process.env.AMPHORA_PROJECT ?? DEFAULT_PROJECT);
  const entity = opts.entity ? validateEntity(opts.entity) : process.env.AMPHORA_ENTITY ? validateEntity(process.env.AMPHORA_ENTITY) : undefined;
  const body = CreateRunRequest.parse({
    id,
    name: opts.name,
    jobType: opts.jobType ? validateJobType(opts.jobType) : undefined,
    group: opts.group,
    config: opts.config,
    tags: opts.tags ? [...new Set(opts.tags)] : undefined,
    notes: opts.notes,
  });
  const info = localRunInfo({ ...body, id, name: opts.name ?? `${mode}-${id}`, entity: entity ?? mode, project });
  if (mode === 'disabled') return new Run(noServer('disabled'), info, new DisabledRecorder());
  const code = opts.captureCode === false ? null : await captureProvenance();
  const recorder = await OfflineRecorder.create(offlineFolder(opts.dir, id), { ...body, id, entity: entity ?? null, project, provenance: code?.provenance });
  const run = new Run(noServer('offline', recorder.dir), { ...info, provenance: code?.provenance ?? null }, recorder);
  if (code?.diff) await run.saveBytes(DIFF_FILE, code.diff);
  return run;
}

/** Non-finite numbers as "NaN" / "Infinity" / "-Infinity", at any depth; everything else unchanged. */
