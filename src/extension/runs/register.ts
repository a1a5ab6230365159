/**
 * Runs in the editor: *Open Run* (the run view), *Compare Runs* (2–10 runs selected in the Runs
 * view), *Show Experiments* (a project's runs as a table) and *Open Producer Code*. Each kind of
 * page has one panel, reused; panels are restored after a reload by the serializer.
 */
import * as vscode from 'vscode';
import { RUNS_VIEW_TYPE, RunPanelState } from '../../core/runViewMessages.js';
import { notificationText } from '../logic/safeText.js';
import type { ExtensionServices } from '../services.js';
import { registerProducerCode } from './producerCode.js';
import { registerTableEditor } from './tableEditor.js';
import { RunsPanel } from './runsPanel.js';
import { compareTargetsOf, runTargetOf } from '../logic/runTargets.js';

const panels = new Map<RunPanelState['kind'], RunsPanel>();

/** The panel showing a kind of page (tests and other features may ask). */
export function currentRunsPanel(kind: RunPanelState['kind']): RunsPanel | undefined {
  return panels.get(kind);
}

function openPanel(services: ExtensionServices, state: RunPanelState, existing?: vscode.WebviewPanel): RunsPanel {
  const current = panels.get(state.kind);
  if (current && !existing) {
    current.show(state);
    return current;
  }
  current?.dispose();
  const panel = existing ?? vscode.window.createWebviewPanel(RUNS_VIEW_TYPE, 'Run', vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: false });
  const p = new RunsPanel(panel, services, state);
  p.onDidDispose = () => {
    if (panels.get(state.kind) === p) panels.delete(state.kind);
  };
  panels.set(state.kind, p);
  return p;
}

async function projectOf(services: ExtensionServices, arg: unknown): Promise<{ entity: string; project: string } | undefined> {
  const a = arg as { entity?: unknown; project?: unknown; run?: { entity: string; project: string } } | undefined;
  if (typeof a?.entity === 'string' && typeof a.project === 'string') return { entity: a.entity, project: a.project };
  if (a?.run) return { entity: a.run.entity, project: a.run.project };
  const c = await services.connection.require();
  const projects = (await c.http.projects()).items.filter((p) => p.runCount > 0);
  if (projects.length === 0) {
    void vscode.window.showInformationMessage('No runs yet: runs appear when a script calls init(project=…).');
    return undefined;
  }
  if (projects.length === 1) return { entity: projects[0].entity, project: projects[0].name };
  const pick = await vscode.window.showQuickPick(projects.map((p) => ({ label: p.name, description: `${p.entity} · ${p.runCount} runs`, p })), { title: 'Show Experiments: project' });
  return pick ? { entity: pick.p.entity, project: pick.p.name } : undefined;
}

export function registerRuns(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const guard =
    <A extends unknown[]>(title: string, fn: (...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      try {
        return await fn(...args);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`${title}: ${(e as Error).message}`));
        return undefined;
      }
    };
  registerProducerCode(context, services);
  registerTableEditor(context, services);
  context.subscriptions.push(
    vscode.commands.registerCommand(
      'amphora.openRun',
      guard('Open Run', async (arg?: unknown) => {
        const t = runTargetOf(arg);
        if (!t) {
          void vscode.window.showErrorMessage('Open Run: choose a run in the Amphora Runs view.');
          return undefined;
        }
        return openPanel(services, { kind: 'run', entity: t.entity, project: t.project, runId: t.runId }).currentState;
      }),
    ),
    vscode.commands.registerCommand(
      'amphora.compareRuns',
      guard('Compare Runs', async (first?: unknown, selected?: unknown) => {
        const t = compareTargetsOf(first, selected);
        if ('error' in t) {
          void vscode.window.showErrorMessage(`Compare Runs: ${t.error}`);
          return undefined;
        }
        if (t.runIds.length < 2) {
          void vscode.window.showErrorMessage('Compare Runs: select at least 2 different runs.');
          return undefined;
        }
        return openPanel(services, { kind: 'compare', ...t }).currentState;
      }),
    ),
    vscode.commands.registerCommand(
      'amphora.showExperiments',
      guard('Show Experiments', async (arg?: unknown) => {
        const p = await projectOf(services, arg);
        if (!p) return undefined;
        return openPanel(services, { kind: 'experiments', ...p }).currentState;
      }),
    ),
    vscode.window.registerWebviewPanelSerializer(RUNS_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, saved) {
        const s = RunPanelState.safeParse(saved);
        if (!s.success) {
          panel.dispose();
          return;
        }
        openPanel(services, s.data, panel);
      },
    }),
    { dispose: () => [...panels.values()].forEach((p) => p.dispose()) },
  );
}
