/**
 * The folder an offline run (Python `init(mode="offline")`) writes and `amphora sync DIR` uploads.
 * See python/amphora/offline.py for the writer. Format 1:
 *   run.json      OfflineRunRecord
 *   events.jsonl  one OfflineEvent per line, in the order the run did them
 *   blobs/<sha256> the bytes of every saved file and artifact file
 *   sync.json     written by sync: how many events were applied, so a sync that failed half-way resumes
 */
import { z } from 'zod';
import { CallSite, CommitVersionRequest, CreateRunRequest, HistoryRow, Manifest, RunFile, UpdateRunRequest } from './api.js';

export const OFFLINE_FORMAT = 1;

export const OfflineRunRecord = CreateRunRequest.extend({
  format: z.literal(OFFLINE_FORMAT),
  id: z.string(),
  entity: z.string().nullable().optional(),
  project: z.string(),
});
export type OfflineRunRecord = z.infer<typeof OfflineRunRecord>;

export const OfflineEvent = z.discriminatedUnion('op', [
  z.object({ op: z.literal('patch'), body: UpdateRunRequest }),
  z.object({ op: z.literal('history'), rows: z.array(HistoryRow).min(1) }),
  z.object({ op: z.literal('files'), files: z.array(RunFile).min(1) }),
  CommitVersionRequest.omit({ runId: true, manifest: true, description: true, callSite: true }).extend({
    op: z.literal('artifact'),
    name: z.string(),
    manifest: Manifest,
    description: z.string().nullable().optional(),
    /** Artifact(..., incremental=True): the collection's latest files join this version's. */
    incremental: z.boolean().optional(),
    /** Logged without a producer and used by the run (use_artifact of a draft). */
    use: z.boolean().optional(),
    /** The log_artifact/use_artifact line (code provenance); sync passes it on. */
    callSite: CallSite.optional(),
  }),
]);
export type OfflineEvent = z.infer<typeof OfflineEvent>;

export const SyncProgress = z.object({ applied: z.number().int().nonnegative(), run: z.string() });
export type SyncProgress = z.infer<typeof SyncProgress>;
