/**
 * The messages between the run webviews (run view, run comparison, experiments table) and the
 * extension, typed once and validated on both sides, like the lineage view's.
 *
 * Handshake: the webview posts `ready` once its script runs; the extension answers with the page's
 * data (`run`, `compare` or `experiments`) and only then sends updates (live metrics, images).
 */
import { z } from 'zod';
import { CallSite, MetricSeries, Provenance, Run, RunArtifacts, RunFile, RunMetrics, type MetricValue } from './api.js';
import { parseWith, type ParseResult } from './webviewMessages.js';

export const RUNS_VIEW_TYPE = 'amphora.runs';

const Id = z.string().min(1).max(256);
const Name = z.string().min(1).max(256);

/** What a panel shows; also the state the serializer restores after a reload. */
export const RunPanelState = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('run'), entity: Name, project: Name, runId: Id }),
  z.object({ kind: z.literal('compare'), entity: Name, project: Name, runIds: z.array(Id).min(2).max(10) }),
  z.object({ kind: z.literal('experiments'), entity: Name, project: Name }),
]);
export type RunPanelState = z.infer<typeof RunPanelState>;

export const XAxis = z.enum(['step', 'time']);

export const GalleryImage = z.object({
  key: z.string(),
  step: z.number().int().nonnegative(),
  index: z.number().int().nonnegative(),
  path: z.string(),
  size: z.number().int().nonnegative(),
  caption: z.string().nullable(),
});

/** A table logged with `run.log` (a run file `media/tables/<key>_<step>_<index>.table.json`). */
export const RunTable = GalleryImage.omit({ caption: true });

const VersionRow = RunArtifacts.shape.items.element;

const FacetValue = z.string().max(512);
/**
 * The experiments table's choices for one project (columns, sort, filters), kept in the
 * workspace's state so they survive closing the panel and reloading the window. `columns: null`
 * means the default choice (the most common config and summary keys).
 */
export const ExperimentsPrefs = z.object({
  columns: z.array(z.string().min(1).max(1024)).max(500).nullable(),
  sort: z.object({ column: z.string().min(1).max(1024), dir: z.enum(['asc', 'desc']) }),
  filter: z.object({
    states: z.array(FacetValue).max(100).optional(),
    jobTypes: z.array(FacetValue).max(1000).optional(),
    groups: z.array(FacetValue).max(1000).optional(),
    text: z.string().max(1000).optional(),
  }),
});
export type ExperimentsPrefs = z.infer<typeof ExperimentsPrefs>;

/*
 * Series as the webview checks them: the shape of api.ts's MetricSeries, with each array checked
 * in one loop instead of a schema per element (a run view receives tens of thousands of points;
 * per-element unions cost most of the first paint's budget).
 */
const isMetricValue = (v: unknown) => typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity';
const steps = z.custom<number[]>((a) => Array.isArray(a) && a.every((v) => Number.isInteger(v) && v >= 0), 'expected an array of steps (whole numbers ≥ 0)');
const times = z.custom<number[]>((a) => Array.isArray(a) && a.every((v) => typeof v === 'number'), 'expected an array of times (numbers)');
const values = z.custom<MetricValue[]>((a) => Array.isArray(a) && a.every(isMetricValue), 'expected an array of metric values (numbers, "NaN", "Infinity", "-Infinity")');
export const ChartSeries = MetricSeries.extend({ step: steps, time: times, value: values });
export const ChartMetrics = RunMetrics.extend({ series: z.array(ChartSeries) });

/** A chart's data for one run (comparison sends one per run). */
export const RunSeries = z.object({ runId: Id, metrics: ChartMetrics });

export const ExtensionToRunView = z.discriminatedUnion('type', [
  /** The run view's page: the run and everything but the metric series. */
  z.object({
    type: z.literal('run'),
    state: RunPanelState,
    run: Run,
    inputs: z.array(VersionRow),
    outputs: z.array(VersionRow),
    files: z.array(RunFile),
    images: z.array(GalleryImage),
    imagesOmitted: z.number().int().nonnegative(),
    tables: z.array(RunTable),
  }),
  /**
   * Metric series. `replace`: the charts' data for the whole range; `zoom`: full detail for
   * [min, max] of `x` (charts keep the overview to zoom out to); `append`: new points of a live run.
   */
  z.object({
    type: z.literal('metrics'),
    mode: z.enum(['replace', 'zoom', 'append']),
    x: XAxis,
    range: z.object({ min: z.number(), max: z.number() }).nullable(),
    runs: z.array(RunSeries),
  }),
  /** The run's state or summary changed (live runs). */
  z.object({ type: z.literal('runUpdated'), run: Run }),
  z.object({ type: z.literal('compare'), state: RunPanelState, runs: z.array(Run).min(1).max(10) }),
  /** `prefs`: the choices saved for this project (null: none yet). */
  z.object({ type: z.literal('experiments'), state: RunPanelState, runs: z.array(Run), truncated: z.boolean(), prefs: ExperimentsPrefs.nullable() }),
  /** An image's bytes as a data: URL (or why it could not be loaded). */
  z.object({ type: z.literal('image'), path: z.string(), dataUrl: z.string().nullable(), error: z.string().nullable() }),
  /**
   * A table file's text, for the run view's table section (`loadTable`) or as the page of the
   * table viewer (`document`: a `.table.json` opened in an editor). `text` null: `error` says why
   * (too large, unreadable); the page checks the text itself (core/runs/tableFile.ts).
   */
  z.object({ type: z.literal('table'), path: z.string(), text: z.string().nullable(), error: z.string().nullable() }),
  z.object({ type: z.literal('tableDocument'), title: z.string(), path: z.string(), size: z.number().int().nonnegative(), text: z.string().nullable(), error: z.string().nullable() }),
  /** A user-facing failure (server unreachable, run gone). */
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ExtensionToRunView = z.infer<typeof ExtensionToRunView>;

const VersionTarget = z.object({ entity: Name, project: Name, name: Name, version: Name });

export const RunViewToExtension = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Re-query metrics: another x axis, or a zoomed range (null: the whole run). */
  z.object({ type: z.literal('queryMetrics'), x: XAxis, range: z.object({ min: z.number(), max: z.number() }).nullable() }),
  /** An artifact row: reveal it in the Artifacts tree, or show its lineage. */
  z.object({ type: z.literal('artifact'), action: z.enum(['reveal', 'lineage', 'producerCode']), version: VersionTarget }),
  /** Open a saved run file read-only in an editor. */
  z.object({ type: z.literal('openFile'), runId: Id, path: z.string().min(1).max(4096) }),
  /** Load an image of the gallery. */
  z.object({ type: z.literal('loadImage'), path: z.string().min(1).max(4096) }),
  /** Load a logged table of the run. */
  z.object({ type: z.literal('loadTable'), path: z.string().min(1).max(4096) }),
  /** The table viewer: open the file in the text editor instead (or beside). */
  z.object({ type: z.literal('openAsJson') }),
  /** Open a run's code: the program, or a call site. */
  z.object({ type: z.literal('openCode'), runId: Id, callSite: CallSite.nullable() }),
  /** From the experiments table / comparison: open one run, or compare several. */
  z.object({ type: z.literal('openRun'), runId: Id }),
  z.object({ type: z.literal('compareRuns'), runIds: z.array(Id).min(2).max(10) }),
  z.object({ type: z.literal('refresh') }),
  /** The experiments table's columns, sort or filters changed: save them for the project. */
  z.object({ type: z.literal('experimentsPrefs'), prefs: ExperimentsPrefs }),
  z.object({ type: z.literal('error'), message: z.string().max(4000) }),
]);
export type RunViewToExtension = z.infer<typeof RunViewToExtension>;

export function parseRunViewMessage(data: unknown): ParseResult<RunViewToExtension> {
  return parseWith(RunViewToExtension, data, 'from a run webview');
}

export function parseExtensionRunMessage(data: unknown): ParseResult<ExtensionToRunView> {
  return parseWith(ExtensionToRunView, data, 'from the extension');
}

export type { MetricSeries, Provenance };
