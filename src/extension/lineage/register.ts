/**
 * *Amphora: Show Lineage* from a version or run row, a CodeLens/hover link (a reference string),
 * the active editor's reference, or the palette (the whole project or a picked version); one panel, reused;
 * restored after a reload.
 */
import * as vscode from 'vscode';
import type { ArtifactVersion, Run } from '../../core/api.js';
import { LineagePanelState } from '../../core/webviewMessages.js';
import { referenceAt } from '../logic/references.js';
import type { ExtensionServices } from '../services.js';
import { DEFAULT_DEPTH, LINEAGE_VIEW_TYPE, LineagePanel } from './lineagePanel.js';
import { notificationText } from '../logic/safeText.js';
import { pickCollectionOrProject, pickVersion } from '../commands/pickVersion.js';
import { projectSourceOf } from '../language/documents.js';

let current: LineagePanel | undefined;
/** The palette's first choice: the project's whole graph rather than one version's neighbourhood. */
export const WHOLE_PROJECT = '$(type-hierarchy) The whole project';

/** The panel currently shown (tests and other features may ask). */
export function currentLineagePanel(): LineagePanel | undefined {
  return current;
}

const isVersion = (x: unknown): x is ArtifactVersion => !!x && typeof x === 'object' && 'digest' in x && 'version' in x && 'entity' in x;
const isRun = (x: unknown): x is Run => !!x && typeof x === 'object' && 'jobType' in x && 'state' in x && 'entity' in x && 'id' in x;

/** Works out what to focus from whatever the command was invoked with. */
export async function stateFor(services: ExtensionServices, arg: unknown): Promise<LineagePanelState | undefined> {
  const base = { level: 'instance' as const, depth: DEFAULT_DEPTH };
  const a = arg as { version?: unknown; run?: unknown; entity?: string; project?: string; nodeId?: string } | undefined;
  const v = isVersion(a?.version) ? a.version : isVersion(arg) ? arg : undefined;
  if (v) return { ...base, entity: v.entity, project: v.project, focus: `artifact:${v.id}` };
  const r = isRun(a?.run) ? a.run : isRun(arg) ? arg : undefined;
  if (r) return { ...base, entity: r.entity, project: r.project, focus: `run:${r.id}` };
  if (a && typeof a.entity === 'string' && typeof a.project === 'string') return { ...base, entity: a.entity, project: a.project, focus: a.nodeId ?? null };
  // A reference string (CodeLens/hover links), or the one under the cursor.
  let refText = typeof arg === 'string' ? arg : undefined;
  const editor = vscode.window.activeTextEditor;
  if (!refText && editor) refText = referenceAt(editor.document.getText(), editor.document.offsetAt(editor.selection.active))?.text;
  if (refText) {
    const res = await services.resolver.resolveInSource(refText, editor ? projectSourceOf(editor.document) : '');
    if (res.kind === 'resolved') return { ...base, entity: res.version.entity, project: res.version.project, focus: `artifact:${res.version.id}` };
    void vscode.window.showWarningMessage(notificationText(`Show Lineage: ${res.message}`));
    return undefined;
  }
  // Nothing to focus on: let the user choose the whole project or a version of one of its artifacts.
  const target = await pickCollectionOrProject(services, 'Show Lineage', undefined, WHOLE_PROJECT);
  if (!target) return undefined;
  if (!('name' in target)) return { ...base, entity: target.entity, project: target.project, focus: null };
  const picked = await pickVersion(services, 'Show Lineage', { collection: target });
  return picked && { ...base, entity: picked.entity, project: picked.project, focus: `artifact:${picked.id}` };
}

function openPanel(services: ExtensionServices, state: LineagePanelState, panel?: vscode.WebviewPanel): LineagePanel {
  const p = new LineagePanel(
    panel ?? vscode.window.createWebviewPanel(LINEAGE_VIEW_TYPE, 'Lineage', vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: false }),
    services,
    state,
  );
  p.onDidDispose = () => {
    if (current === p) current = undefined;
  };
  current = p;
  return p;
}

export function registerLineage(context: vscode.ExtensionContext, services: ExtensionServices): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('amphora.showLineage', async (arg?: unknown) => {
      try {
        const state = await stateFor(services, arg);
        if (!state) return;
        if (current) current.show(state);
        else openPanel(services, state);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`Show Lineage: ${(e as Error).message}`));
      }
    }),
    vscode.window.registerWebviewPanelSerializer(LINEAGE_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, saved) {
        const s = LineagePanelState.safeParse(saved);
        if (!s.success) {
          // Saved by an older build or not at all: nothing to restore it from.
          panel.dispose();
          return;
        }
        if (current) current.dispose();
        openPanel(services, s.data, panel);
      },
    }),
    { dispose: () => current?.dispose() },
  );
}
