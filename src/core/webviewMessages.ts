/**
 * The messages between the lineage webview and the extension, typed once and validated on both
 * sides (a webview is a separate origin: anything it receives or sends may be stale or malformed).
 *
 * Handshake: the webview posts `ready` once its script runs; the extension answers with `graph`
 * (and only then sends updates), so no message is lost to a webview that is still loading.
 */
import { z } from 'zod';
import { LineageGraph } from './api.js';

export const LineageLevel = z.enum(['instance', 'type']);
export type LineageLevel = z.infer<typeof LineageLevel>;

/** What a panel shows; also the state the serializer restores after a reload. */
export const LineagePanelState = z.object({
  entity: z.string().min(1),
  project: z.string().min(1),
  /** `artifact:<versionId>` or `run:<runId>`; null shows the whole project. */
  focus: z.string().nullable(),
  level: LineageLevel,
  depth: z.number().int().min(1).max(50),
});
export type LineagePanelState = z.infer<typeof LineagePanelState>;

const NodeId = z.string().min(1).max(512);

export const WebviewToExtension = z.discriminatedUnion('type', [
  /** The script is running and listening. */
  z.object({ type: z.literal('ready') }),
  /** Single click: reveal the node in the Artifacts/Runs tree. */
  z.object({ type: z.literal('reveal'), nodeId: NodeId }),
  /** Double click: a version opens its files, a run its run view. */
  z.object({ type: z.literal('open'), nodeId: NodeId }),
  /** Fetch the neighbours of a node up to `depth` and merge them into the graph. */
  z.object({ type: z.literal('expand'), nodeId: NodeId, depth: z.number().int().min(1).max(10) }),
  /** The user toggled collapsed (types) / exploded (instances); persisted for restore. */
  z.object({ type: z.literal('levelChanged'), level: LineageLevel }),
  /** Open Producer Code for a version node. */
  z.object({ type: z.literal('producerCode'), nodeId: NodeId }),
  /** Re-query the whole graph around the current focus. */
  z.object({ type: z.literal('refresh') }),
  /** Something failed inside the webview; the extension logs it. */
  z.object({ type: z.literal('error'), message: z.string().max(4000) }),
]);
export type WebviewToExtension = z.infer<typeof WebviewToExtension>;

export const ExtensionToWebview = z.discriminatedUnion('type', [
  /**
   * The graph to show. `replace` draws it from scratch; `merge` adds its nodes and edges to the
   * current graph (expansion results, live updates) and keeps the view where it is.
   */
  z.object({
    type: z.literal('graph'),
    mode: z.enum(['replace', 'merge']),
    state: LineagePanelState,
    graph: LineageGraph,
  }),
  /** A node was removed on the server (a deleted version). */
  z.object({ type: z.literal('removeNodes'), nodeIds: z.array(NodeId) }),
  /** A node whose neighbours were fetched: it gets no "expand" affordance any more. */
  z.object({ type: z.literal('expanded'), nodeId: NodeId, truncated: z.boolean() }),
  /** A user-facing failure (server unreachable, node gone). */
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ExtensionToWebview = z.infer<typeof ExtensionToWebview>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

/** One webview message checked against its contract; the error names the message type and the first problem. */
export function parseWith<T>(schema: z.ZodType<T>, data: unknown, side: string): ParseResult<T> {
  const r = schema.safeParse(data);
  if (r.success) return { ok: true, message: r.data };
  const first = r.error.issues[0];
  const where = first?.path.length ? ` at ${first.path.join('.')}` : '';
  const kind = data && typeof data === 'object' && 'type' in data ? `"${String((data as { type: unknown }).type)}"` : 'without a type';
  return { ok: false, error: `Ignored a malformed message ${kind} ${side}${where}: ${first?.message ?? 'invalid'}.` };
}

export function parseWebviewMessage(data: unknown): ParseResult<WebviewToExtension> {
  return parseWith(WebviewToExtension, data, 'from the lineage webview');
}

export function parseExtensionMessage(data: unknown): ParseResult<ExtensionToWebview> {
  return parseWith(ExtensionToWebview, data, 'from the extension');
}
