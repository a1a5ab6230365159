/**
 * Composition root: creates the shared services (connection, event stream, reference resolver,
 * collection index, trees) and registers every feature with them. `activate` returns the services so other
 * extensions and tests can reach them; feature modules get them through features.ts.
 */
import * as vscode from 'vscode';
import { paginate } from '../core/paginate.js';
import { eventProject } from '../core/api.js';
import { ConnectionManager } from './connection/connectionManager.js';
import { EventBus } from './connection/eventBus.js';
import { impactOf } from './logic/events.js';
import { ReferenceResolver } from './logic/resolver.js';
import { CollectionIndex } from './logic/collectionIndex.js';
import { ArtifactsTreeProvider } from './views/artifactsTree.js';
import { RunsTreeProvider } from './views/runsTree.js';
import { downloadVersion } from './commands/transfer.js';
import { registerCommands } from './commands/register.js';
import { registerLanguageFeatures } from './language/register.js';
import { registerStatusBar } from './status/statusBar.js';
import { features } from './features.js';
import type { ExtensionServices } from './services.js';

let running: { connection: ConnectionManager } | undefined;
const MAX_INDEXED_COLLECTIONS = 5000;

export async function activate(context: vscode.ExtensionContext): Promise<ExtensionServices> {
  const output = vscode.window.createOutputChannel('Amphora');
  const connection = new ConnectionManager(context, output);
  const events = new EventBus(connection, output);
  // One index of each project's artifacts for completion, diagnostics and the resolver's hints.
  const collections = new CollectionIndex(async (entity, project) => {
    const c = await connection.require();
    // Bounded: past a few thousand artifacts completion and nearest-name hints are not worth the wait.
    return paginate((q) => c.http.collections(entity, project, q), { max: MAX_INDEXED_COLLECTIONS });
  });
  const resolver = new ReferenceResolver(
    () => {
      const c = connection.current;
      if (!c) return undefined;
      return {
        resolve: (ref) => c.http.resolve(ref),
        projects: async () => (await c.http.projects()).items,
        entity: async () => c.entity,
        projectIndex: (entity, project) => collections.get(entity, project),
      };
    },
    () => vscode.workspace.getConfiguration('amphora').get<string>('project'),
  );
  const artifactsTree = new ArtifactsTreeProvider(connection, events);
  const runsTree = new RunsTreeProvider(connection, events);
  artifactsTree.view = vscode.window.createTreeView('amphora.artifacts', { treeDataProvider: artifactsTree, showCollapseAll: true, canSelectMany: false });
  // Several runs can be selected at once: Compare Runs takes 2–10 of them.
  runsTree.view = vscode.window.createTreeView('amphora.runs', { treeDataProvider: runsTree, showCollapseAll: true, canSelectMany: true });
  running = { connection };

  const services: ExtensionServices = {
    context,
    output,
    connection,
    events,
    resolver,
    collections,
    artifactsTree,
    runsTree,
    downloadVersion: (target, folder) => downloadVersion(connection, target, folder),
  };

  context.subscriptions.push(
    output,
    { dispose: () => void connection.dispose() },
    events,
    artifactsTree,
    runsTree,
    artifactsTree.view,
    runsTree.view,
    // The reference cache follows the server: per-collection on events, everything on reconnect.
    // The index first: the resolver's listeners re-ask it at once.
    events.onEvent((e) => {
      if (e.type !== 'run.updated' && e.type !== 'run.logged') {
        const scope = eventProject(e);
        collections.invalidate(scope.entity, scope.project);
      }
      const i = impactOf(e);
      if (i.collection) resolver.invalidateCollection(i.entity, i.project, i.collection);
    }),
    events.onDidResync(() => {
      collections.clear();
      resolver.clear();
    }),
    connection.onDidChangeState(() => {
      collections.clear();
      resolver.clear();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('amphora.serverUrl')) void connection.connect();
      if (e.affectsConfiguration('amphora.project')) resolver.clear();
    }),
  );
  void vscode.commands.executeCommand('setContext', 'amphora.connectionState', 'connecting');

  registerStatusBar(context, connection);
  registerCommands(context, services);
  registerLanguageFeatures(context, services);
  for (const register of features) {
    try {
      await register(context, services);
    } catch (e) {
      output.appendLine(`a feature failed to register: ${(e as Error).stack ?? e}`);
    }
  }
  void connection.connect();
  return services;
}

export async function deactivate(): Promise<void> {
  // Stops the bundled server if this window started it.
  await running?.connection.dispose();
  running = undefined;
}
