import { z } from 'zod';
import { MAX_STEP,
  AppendHistoryRequest,
  CreateRunRequest,
  HistoryList,
  MetricsQuery,
  RunMetrics,
  PutRunFilesRequest,
  Run,
  RunArtifacts,
  RunFileList,
  RunList,
  RunState,
  UpdateRunRequest,
  UseArtifactRequest,
  ArtifactVersion,
} from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { parseReference } from '../../core/reference.js';
import { canRead, hiddenProject } from '../auth/principal.js';
import { requireReadableBlobs } from './blobGuard.js';
import { errors, P, PageQuery, ProjectParams, RunParams } from './common.js';

const BASE = `${P}/projects/:entity/:project/runs`;

export const runRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    BASE,
    { schema: { operationId: 'createRun', summary: 'Create a run (or resume it when the id exists)', params: ProjectParams, body: CreateRunRequest, response: { 200: Run, 201: Run, ...errors } } },
    async (req, reply) => {
      const out = await ctx.runs.create(req.params.entity, req.params.project, req.body);
      return reply.code(out.created ? 201 : 200).send(out.run);
    },
  );
  app.get(
    BASE,
    { schema: { operationId: 'listRuns', summary: 'Runs, newest first (paged)', params: ProjectParams, querystring: PageQuery.extend({ jobType: z.string().optional(), state: RunState.optional() }), response: { 200: RunList, ...errors } } },
    async (req) => ctx.runs.list(req.params.entity, req.params.project, req.query),
  );
  app.get(`${BASE}/:runId`, { schema: { operationId: 'getRun', summary: 'A run: state, config, summary, timestamps', params: RunParams, response: { 200: Run, ...errors } } }, async (req) =>
    ctx.runs.get(req.params.entity, req.params.project, req.params.runId),
  );
  app.patch(
    `${BASE}/:runId`,
    { schema: { operationId: 'updateRun', summary: 'Merge config/summary key by key; finish or fail the run', params: RunParams, body: UpdateRunRequest, response: { 200: Run, ...errors } } },
    async (req) => ctx.runs.update(req.params.entity, req.params.project, req.params.runId, req.body),
  );
  app.post(`${BASE}/:runId/heartbeat`, { schema: { operationId: 'sendHeartbeat', summary: 'Keep a running run alive (a run without heartbeats is marked crashed)', params: RunParams, response: { 200: Run, ...errors } } }, async (req) =>
    ctx.runs.heartbeat(req.params.entity, req.params.project, req.params.runId),
  );
  app.post(
    `${BASE}/:runId/history`,
    { schema: { operationId: 'appendHistory', summary: 'Append logged metric rows (step, values) to the run history, as rows or in compact columns', params: RunParams, body: AppendHistoryRequest, response: { 200: z.object({ appended: z.number().int() }), ...errors } } },
    async (req) => ({ appended: await ctx.runs.appendHistory(req.params.entity, req.params.project, req.params.runId, req.body.rows ? { rows: req.body.rows } : { columns: req.body.columns! }) }),
  );
  app.get(
    `${BASE}/:runId/history`,
    {
      schema: {
        operationId: 'listHistory',
        summary: 'History rows in the order they were logged (minStep/maxStep bound the steps; offset skips that many of those rows, for paging)',
        params: RunParams,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(100_000).optional(),
          offset: z.coerce.number().int().min(0).max(MAX_STEP).optional(),
          minStep: z.coerce.number().int().min(0).max(MAX_STEP).optional(),
          maxStep: z.coerce.number().int().min(0).max(MAX_STEP).optional(),
        }),
        response: { 200: HistoryList, ...errors },
      },
    },
    async (req) => ctx.runs.history(req.params.entity, req.params.project, req.params.runId, req.query),
  );
  app.get(
    `${BASE}/:runId/metrics`,
    { schema: { operationId: 'getRunMetrics', summary: 'Metric keys and chart series (downsampled; min/max for detail on zoom)', params: RunParams, querystring: MetricsQuery, response: { 200: RunMetrics, ...errors } } },
    async (req) => ctx.runs.metrics(req.params.entity, req.params.project, req.params.runId, req.query),
  );
  app.put(
    `${BASE}/:runId/files`,
    { schema: { operationId: 'putRunFiles', summary: 'Attach uploaded blobs as saved run files', params: RunParams, body: PutRunFilesRequest, response: { 200: RunFileList, ...errors } } },
    async (req) => {
      await requireReadableBlobs(ctx.db, req.principal, req.body.files);
      return { items: await ctx.runs.putFiles(req.params.entity, req.params.project, req.params.runId, req.body.files) };
    },
  );
  app.get(`${BASE}/:runId/files`, { schema: { operationId: 'listRunFiles', summary: 'Files saved by a run', params: RunParams, response: { 200: RunFileList, ...errors } } }, async (req) => ({
    items: await ctx.runs.files(req.params.entity, req.params.project, req.params.runId),
  }));
  app.post(
    `${BASE}/:runId/inputs`,
    { schema: { operationId: 'useArtifact', summary: 'Declare that the run uses a version (idempotent); returns the version', params: RunParams, body: UseArtifactRequest, response: { 200: ArtifactVersion, ...errors } } },
    async (req) => {
      // The used version may live in another project: the caller must be able to read it.
      const ref = parseReference(req.body.ref);
      if (!canRead(req.principal, ref.entity ?? req.params.entity, ref.project ?? req.params.project)) throw hiddenProject();
      return ctx.runs.use(req.params.entity, req.params.project, req.params.runId, req.body.ref, req.body.callSite);
    },
  );
  app.get(`${BASE}/:runId/inputs`, { schema: { operationId: 'listRunInputs', summary: 'Versions the run used', params: RunParams, response: { 200: RunArtifacts, ...errors } } }, async (req) => ({
    items: (await ctx.runs.artifacts(req.params.entity, req.params.project, req.params.runId, 'input')).filter((v) => canRead(req.principal, v.entity, v.project)),
  }));
  app.get(`${BASE}/:runId/outputs`, { schema: { operationId: 'listRunOutputs', summary: 'Versions the run logged', params: RunParams, response: { 200: RunArtifacts, ...errors } } }, async (req) => ({
    items: (await ctx.runs.artifacts(req.params.entity, req.params.project, req.params.runId, 'output')).filter((v) => canRead(req.principal, v.entity, v.project)),
  }));
};
