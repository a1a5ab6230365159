/**
 * The lineage webview: a toolbar (collapsed types / exploded instances, fit, refresh, find), the
 * graph, and a details panel for the selected node (the graph pans so that node stays in view). It keeps the instance graph it was sent (merging
 * expansions and live updates into it) and derives the collapsed view locally, so toggling is
 * instant and needs no round trip.
 */
import './noEval.js';
import type { LineageGraph, LineageNode } from '../../core/api.js';
import { collapseToTypes, detailRows, filterToMatches, matchNodes, mergeGraphs, removeNodes } from '../../core/lineageView.js';
import type { ExtensionToWebview, LineageLevel, LineagePanelState } from '../../core/webviewMessages.js';
import { connectHost, type Host } from './host.js';
import { GraphView } from './render.js';

const EXPAND_DEPTH = 1;

class LineageApp {
  private state: LineagePanelState | undefined;
  private instances: LineageGraph | undefined;
  private shown: LineageGraph | undefined;
  private readonly expanded = new Set<string>();
  private readonly view: GraphView;
  private readonly levelButtons: Record<LineageLevel, HTMLButtonElement>;
  private readonly status: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly details: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly matchCount: HTMLElement;
  private readonly onlyMatches: HTMLButtonElement;
  /** Ids the search matched in the graph as drawn, and which of them Enter went to last. */
  private matches: string[] = [];
  private matchIndex = -1;

  constructor(root: HTMLElement, private readonly host: Host) {
    root.replaceChildren();
    root.removeAttribute('aria-busy');
    const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Lineage view' });
    const seg = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Level of detail' });
    this.levelButtons = {
      type: button('Types', 'Collapse to artifact types and job types', () => this.setLevel('type')),
      instance: button('Instances', 'Show every artifact version and run', () => this.setLevel('instance')),
    };
    this.levelButtons.type.dataset.level = 'type';
    this.levelButtons.instance.dataset.level = 'instance';
    seg.append(this.levelButtons.type, this.levelButtons.instance);
    const fit = button('Fit', 'Fit the whole graph into view', () => this.view.fit());
    fit.classList.add('fit');
    const refresh = button('Refresh', 'Query the graph again', () => this.host.post({ type: 'refresh' }));
    refresh.classList.add('refresh');
    this.status = el('span', { class: 'status', 'aria-live': 'polite' });
    // Find: large graphs are read by searching, not by scanning. Enter jumps to the next match.
    this.search = el('input', {
      type: 'search',
      class: 'search',
      placeholder: 'Find: name, type, job type',
      'aria-label': 'Find nodes by name, type, job type or alias (Enter: next match, Shift+Enter: previous)',
      title: 'Find nodes by name, type, job type or alias. Enter: next match, Shift+Enter: previous, Escape: clear.',
    }) as HTMLInputElement;
    this.search.addEventListener('input', () => this.onSearch());
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.jump(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape') {
        this.search.value = '';
        this.onSearch();
      }
    });
    this.matchCount = el('span', { class: 'match-count', 'aria-live': 'polite' });
    this.onlyMatches = button('Only matches', 'Draw only the matching nodes and their direct neighbours', () => {
      this.onlyMatches.setAttribute('aria-pressed', String(this.onlyMatches.getAttribute('aria-pressed') !== 'true'));
      this.redraw(false);
    });
    this.onlyMatches.classList.add('only-matches');
    this.onlyMatches.setAttribute('aria-pressed', 'false');
    // The details panel only takes room once a node is selected; until then the toolbar says how.
    const hint = el('span', { class: 'hint' }, 'Click a node for details; double-click opens it.');
    toolbar.append(seg, fit, refresh, this.search, this.matchCount, this.onlyMatches, hint, this.status);
    this.banner = el('div', { class: 'banner', role: 'alert', hidden: '' });
    const main = el('div', { class: 'main' });
    const canvas = el('div', { class: 'canvas' });
    this.details = el('aside', { class: 'details', 'aria-label': 'Selected node', hidden: '' });
    main.append(canvas, this.details);
    root.append(toolbar, this.banner, main);
    this.view = new GraphView(canvas, {
      select: (id) => this.onSelect(id),
      open: (id) => this.onOpen(id),
    });
    this.updateLevelButtons();
    // The canvas narrows when the details panel opens or the editor is resized: keep the selection visible.
    new ResizeObserver(() => {
      const sel = this.view.selectedId;
      if (sel) this.view.keepInView(sel);
    }).observe(canvas);
  }

  handle(m: ExtensionToWebview): void {
    switch (m.type) {
      case 'graph': {
        this.state = m.state;
        this.host.saveState(m.state);
        if (m.mode === 'replace' || !this.instances) {
          this.instances = m.graph;
          this.expanded.clear();
          if (m.graph.focus) this.expanded.add(m.graph.focus);
        } else {
          this.instances = mergeGraphs(this.instances, m.graph);
        }
        this.hideBanner();
        this.redraw(m.mode === 'merge');
        break;
      }
      case 'removeNodes':
        if (!this.instances) return;
        this.instances = removeNodes(this.instances, m.nodeIds);
        this.redraw(true);
        break;
      case 'expanded':
        this.expanded.add(m.nodeId);
        if (this.view.selectedId === m.nodeId) this.showDetails(m.nodeId);
        break;
      case 'error':
        this.showBanner(m.message);
        break;
    }
  }

  private redraw(keepView: boolean): void {
    if (!this.instances || !this.state) return;
    const whole = this.state.level === 'type' ? collapseToTypes(this.instances) : this.instances;
    const query = this.search.value.trim();
    this.shown = query && this.onlyMatches.getAttribute('aria-pressed') === 'true' ? filterToMatches(whole, matchNodes(whole, query)) : whole;
    const t = this.view.render(this.shown, keepView);
    const runs = this.shown.nodes.filter((n) => n.kind === 'run' || n.kind === 'jobType').length;
    const arts = this.shown.nodes.length - runs;
    const kinds = this.state.level === 'type' ? ['artifact type', 'job type'] : ['version', 'run'];
    const count = (n: number, kind: string) => `${n} ${kind}${n === 1 ? '' : 's'}`;
    this.status.textContent = `${count(arts, kinds[0])} · ${count(runs, kinds[1])}${this.instances.truncated ? ' · more beyond (expand a node)' : ''}`;
    this.status.title = `layout ${t.layoutMs.toFixed(0)} ms, drawing ${t.renderMs.toFixed(0)} ms`;
    this.updateLevelButtons();
    this.applySearch();
    const sel = this.view.selectedId;
    if (sel) this.showDetails(sel);
    else this.clearDetails();
  }

  private onSearch(): void {
    this.matchIndex = -1;
    // A filtered drawing depends on the query; a dimmed one only needs the marks updated.
    if (this.onlyMatches.getAttribute('aria-pressed') === 'true') this.redraw(false);
    else this.applySearch();
  }

  private applySearch(): void {
    const query = this.search.value.trim();
    this.matches = query && this.shown ? matchNodes(this.shown, query) : [];
    this.view.setMatches(query ? new Set(this.matches) : null);
    if (this.matchIndex >= this.matches.length) this.matchIndex = -1;
    this.matchCount.textContent = !query ? '' : this.matches.length === 0 ? 'no match' : this.matchIndex >= 0 ? `${this.matchIndex + 1} of ${this.matches.length}` : `${this.matches.length} found`;
    this.search.classList.toggle('no-match', !!query && this.matches.length === 0);
  }

  /** Selects the next (or previous) match: details, tree reveal, and the graph pans to it. */
  private jump(step: 1 | -1): void {
    if (this.matches.length === 0) return;
    this.matchIndex = (this.matchIndex + step + this.matches.length) % this.matches.length;
    const id = this.matches[this.matchIndex];
    this.view.setSelected(id);
    this.onSelect(id);
    this.applySearch();
  }

  private setLevel(level: LineageLevel): void {
    if (!this.state || this.state.level === level) return;
    this.state = { ...this.state, level };
    this.host.saveState(this.state);
    this.host.post({ type: 'levelChanged', level });
    this.view.setSelected(null);
    this.redraw(false);
  }

  private updateLevelButtons(): void {
    const level = this.state?.level ?? 'instance';
    for (const l of ['type', 'instance'] as const) this.levelButtons[l].setAttribute('aria-pressed', String(l === level));
  }

  private onSelect(id: string | null): void {
    if (!id) return this.clearDetails();
    this.showDetails(id);
    this.host.post({ type: 'reveal', nodeId: id });
  }

  private onOpen(id: string): void {
    const node = this.node(id);
    if (!node) return;
    if (node.kind === 'artifactType' || node.kind === 'jobType') {
      // A type has nothing to open: show its instances instead.
      this.setLevel('instance');
      return;
    }
    this.host.post({ type: 'open', nodeId: id });
  }

  private node(id: string): LineageNode | undefined {
    return this.shown?.nodes.find((n) => n.id === id);
  }

  private showDetails(id: string): void {
    const node = this.node(id);
    if (!node) return this.clearDetails();
    const table = el('dl', { class: 'rows' });
    for (const [k, v] of detailRows(node)) table.append(el('dt', {}, k), el('dd', {}, v));
    const actions = el('div', { class: 'actions' });
    if (node.kind === 'artifact' || node.kind === 'run') {
      const expand = button(this.expanded.has(id) ? 'Expand again' : 'Expand neighbours', 'Fetch the runs and versions around this node', () => {
        this.host.post({ type: 'expand', nodeId: id, depth: EXPAND_DEPTH });
      });
      expand.classList.add('expand');
      const open = button(node.kind === 'artifact' ? 'Open files' : 'Open run', 'Same as double-click', () => this.onOpen(id));
      open.classList.add('open');
      actions.append(expand, open);
    }
    const reveal = button('Reveal in tree', 'Select it in the Amphora sidebar', () => this.host.post({ type: 'reveal', nodeId: id }));
    reveal.classList.add('reveal');
    actions.append(reveal);
    if (node.kind === 'artifact' && node.version?.producerRun) {
      const code = button('Producer code', 'Open the code that logged this version (at the recorded commit)', () => this.host.post({ type: 'producerCode', nodeId: id }));
      code.classList.add('producer-code');
      actions.append(code);
    }
    this.details.replaceChildren(el('h2', {}, node.label), table, actions);
    this.details.dataset.nodeId = id;
    // The panel may just have taken room from the canvas: keep the selected node out from under it.
    this.details.hidden = false;
    this.view.keepInView(id);
  }

  private clearDetails(): void {
    delete this.details.dataset.nodeId;
    this.details.replaceChildren();
    this.details.hidden = true;
  }

  private showBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }
  private hideBanner(): void {
    this.banner.hidden = true;
  }
}

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

function start(): void {
  const host = connectHost();
  const root = document.getElementById('app') ?? document.body.appendChild(el('div', { id: 'app' }));
  try {
    const app = new LineageApp(root, host);
    host.onMessage((m) => {
      try {
        app.handle(m);
      } catch (e) {
        host.post({ type: 'error', message: `lineage view failed to show an update: ${String((e as Error)?.stack ?? e).slice(0, 3000)}` });
      }
    });
    host.post({ type: 'ready' });
  } catch (e) {
    host.post({ type: 'error', message: `lineage view failed to start: ${String((e as Error)?.stack ?? e).slice(0, 3000)}` });
  }
}

start();
