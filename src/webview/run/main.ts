/**
 * Entry of the run webviews: one bundle for the run view, run comparison and the experiments
 * table; the first data message says which page this panel is.
 */
import '../lineage/noEval.js';
import type { ExtensionToRunView } from '../../core/runViewMessages.js';
import { ComparePage } from './comparePage.js';
import { el, note } from './dom.js';
import { ExperimentsPage } from './experimentsPage.js';
import { connectHost } from './host.js';
import { RunPage } from './runPage.js';
import { TableDocumentPage } from './tableDocumentPage.js';

function start(): void {
  const host = connectHost();
  const root = document.getElementById('app') ?? document.body.appendChild(el('div', { id: 'app' }));
  const banner = el('div', { class: 'banner', role: 'alert', hidden: '' });
  const content = el('main', { class: 'content' });
  let page: RunPage | ComparePage | ExperimentsPage | TableDocumentPage | undefined;
  let started = false;
  const handle = (m: ExtensionToRunView) => {
    if (!started) {
      root.replaceChildren(banner, content);
      root.removeAttribute('aria-busy');
      started = true;
    }
    if (m.type !== 'error' && m.type !== 'image') banner.hidden = true;
    switch (m.type) {
      case 'run':
        host.saveState(m.state);
        if (!(page instanceof RunPage)) page = new RunPage(content, host);
        page.show(m);
        return;
      case 'compare':
        host.saveState(m.state);
        if (!(page instanceof ComparePage)) page = new ComparePage(content, host);
        page.show(m);
        return;
      case 'experiments':
        host.saveState(m.state);
        if (!(page instanceof ExperimentsPage)) page = new ExperimentsPage(content, host);
        page.show(m);
        return;
      case 'metrics':
        if (page instanceof RunPage || page instanceof ComparePage) page.metrics(m);
        return;
      case 'runUpdated':
        if (page instanceof RunPage || page instanceof ComparePage) page.runUpdated(m.run);
        return;
      case 'image':
        if (page instanceof RunPage) page.image(m);
        return;
      case 'table':
        if (page instanceof RunPage) page.table(m);
        return;
      case 'tableDocument':
        // A custom editor: VS Code restores it from the file, so no state is saved.
        if (!(page instanceof TableDocumentPage)) page = new TableDocumentPage(content, host);
        page.show(m);
        return;
      case 'error':
        banner.replaceChildren(m.message);
        banner.hidden = false;
        // Never a blank view: until a page exists, the error is the page.
        if (!page) content.replaceChildren(note(m.message, 'error'));
        return;
    }
  };
  host.onMessage((m) => {
    try {
      handle(m);
    } catch (e) {
      host.post({ type: 'error', message: `run webview failed on "${m.type}": ${(e as Error).stack ?? e}`.slice(0, 4000) });
      banner.replaceChildren(`Could not show this: ${(e as Error).message}`);
      banner.hidden = false;
    }
  });
  window.addEventListener('error', (e) => host.post({ type: 'error', message: String(e.message).slice(0, 4000) }));
  host.post({ type: 'ready' });
}

start();
