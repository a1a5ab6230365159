/**
 * What the run commands were invoked with: tree rows, API objects, CodeLens/hover arguments
 * (small JSON), webview messages, or the reference under the cursor. Each resolves to fresh data.
 */
import * as vscode from 'vscode';
import type { ArtifactVersion } from '../../core/api.js';
import { parseNodeId } from '../../core/lineage.js';
import { referenceAt } from '../logic/references.js';
import type { ExtensionServices } from '../services.js';

const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object';
const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0;

/** A version from a tree row, an ArtifactVersion, `{entity, project, name, version}`, a lineage focus or a reference string. */
export async function resolveVersionArg(services: ExtensionServices, arg: unknown): Promise<ArtifactVersion | undefined> {
  const a = isObj(arg) && isObj(arg.version) ? arg.version : arg;
  const c = await services.connection.require();
  if (isObj(a) && str(a.entity) && str(a.project) && str(a.name) && str(a.version)) return c.http.version(a.entity, a.project, a.name, a.version);
  if (isObj(a) && str(a.entity) && str(a.project) && str(a.nodeId)) {
    const id = parseNodeId(a.nodeId);
    if (id?.kind !== 'artifact') return undefined;
    const g = await c.http.lineage(a.entity, a.project, { node: a.nodeId, depth: 1, level: 'instance' });
    return g.nodes.find((n) => n.id === a.nodeId)?.version;
  }
  if (str(a)) return c.http.resolve(a);
  if (a === undefined) {
    // From the palette: the reference under the cursor, resolved as the CodeLens resolves it.
    const editor = vscode.window.activeTextEditor;
    const source = editor?.document.getText() ?? '';
    const ref = editor ? referenceAt(source, editor.document.offsetAt(editor.selection.active))?.text : undefined;
    if (!ref) return undefined;
    const r = await services.resolver.resolveInSource(ref, source);
    if (r.kind === 'resolved') return r.version;
    throw new Error(r.message);
  }
  return undefined;
}
