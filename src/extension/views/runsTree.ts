/** The Runs view in VS Code: the rows come from RunsTreeModel (runsModel.ts). */
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { EventBus } from '../connection/eventBus.js';
import type { RunsTreeApi } from '../services.js';
import { RunsTreeModel } from './runsModel.js';
import { connectionSource, ModelTreeProvider } from './treeProvider.js';

export class RunsTreeProvider extends ModelTreeProvider<RunsTreeModel> implements RunsTreeApi {
  constructor(connection: ConnectionManager, events: EventBus) {
    super(new RunsTreeModel(connectionSource(connection)), connection, events);
  }

  async revealRun(entity: string, project: string, runId: string, opts: { select?: boolean; focus?: boolean } = {}): Promise<boolean> {
    if (!this.view) return false;
    const node = await this.model.findRun(entity, project, runId);
    if (!node) return false;
    await this.view.reveal(node, { select: opts.select ?? true, focus: opts.focus ?? true, expand: true });
    return true;
  }
}
