/** The Artifacts view in VS Code: the rows come from ArtifactsTreeModel (artifactsModel.ts). */
import * as vscode from 'vscode';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { EventBus } from '../connection/eventBus.js';
import type { ArtifactsTreeApi, VersionTarget } from '../services.js';
import { ArtifactsTreeModel } from './artifactsModel.js';
import { connectionSource, ModelTreeProvider } from './treeProvider.js';

export class ArtifactsTreeProvider extends ModelTreeProvider<ArtifactsTreeModel> implements ArtifactsTreeApi {
  constructor(connection: ConnectionManager, events: EventBus) {
    super(
      new ArtifactsTreeModel(connectionSource(connection), (empty) => void vscode.commands.executeCommand('setContext', 'amphora.empty', empty)),
      connection,
      events,
    );
  }

  async revealVersion(target: VersionTarget, opts: { select?: boolean; focus?: boolean; expand?: boolean } = {}): Promise<boolean> {
    if (!this.view) return false;
    const node = await this.model.findVersion(target);
    if (!node) return false;
    await this.view.reveal(node, { select: opts.select ?? true, focus: opts.focus ?? true, expand: opts.expand ?? false });
    return true;
  }
}
