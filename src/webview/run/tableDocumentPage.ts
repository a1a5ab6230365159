/**
 * The table viewer of a `.table.json` opened in an editor (an artifact version's file through
 * `amphora:`, or a workspace file): the file's name and size, "Open as JSON", and the table.
 */
import { formatBytes } from '../../core/bytes.js';
import type { ExtensionToRunView } from '../../core/runViewMessages.js';
import { button, el } from './dom.js';
import type { Host } from './host.js';
import { TableView } from './tableView.js';

export class TableDocumentPage {
  private readonly view = new TableView();

  constructor(private readonly root: HTMLElement, private readonly host: Host) {}

  show(m: Extract<ExtensionToRunView, { type: 'tableDocument' }>): void {
    const json = button('Open as JSON', 'Open this file in the text editor', () => this.host.post({ type: 'openAsJson' }), 'open-as-json');
    const refresh = button('Reload', 'Read the file again', () => this.host.post({ type: 'refresh' }), 'refresh');
    const header = el('header', { class: 'run-header table-header' }, el('div', { class: 'title-row' }, el('h1', {}, m.title), el('span', { class: 'muted' }, formatBytes(m.size)), json, refresh), el('div', { class: 'muted table-path' }, m.path));
    this.root.replaceChildren(header, this.view.root);
    this.view.show(m.text, m.error, m.title);
  }
}
