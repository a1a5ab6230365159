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
  /** Remembers the panel's state, then shows `m` on a page of `Kind`, made on the first message. */
  const showPage = <M extends { state: Parameters<typeof host.saveState>[0] }, P extends RunPage | ComparePage | ExperimentsPage>(
    Kind: new (content: HTMLElement, h: typeof host) => P & { show(m: M): void },
    m: M,
  ): void => {
    host.saveState(m.state);
    const shown = page instanceof Kind ? page : new Kind(content, host);
    page = shown;
    shown.show(m);
  };
  const handle = (m: ExtensionToRunView) => {
    if (!started) {
      root.replaceChildren(banner, content);
      root.removeAttribute('aria-busy');
      started = true;
    }
    if (m.type !== 'error' && m.type !== 'image') banner.hidden = true;
    switch (m.type) {
      case 'run':
        return showPage(RunPage, m);
      case 'compare':
        return showPage(ComparePage, m);
      case 'experiments':
        return showPage(ExperimentsPage, m);
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
