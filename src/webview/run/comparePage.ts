/**
 * Run comparison: the runs' metrics overlaid (one colour per run), the config keys that differ
 * (highlighted; all keys on request) and the summaries side by side.
 */
import type { Run } from '../../core/api.js';
import { diffJson, type TableDiff } from '../../core/runs/runTables.js';
import type { ExtensionToRunView } from '../../core/runViewMessages.js';
import { ChartGrid } from './chartGrid.js';
import { action, el, note, section, seriesColor } from './dom.js';
import type { Host } from './host.js';

export class ComparePage {
  private runs: Run[] = [];
  private grid!: ChartGrid;
  private readonly header = el('header', { class: 'run-header' });
  private readonly config = section('Config', 'config');
  private readonly summary = section('Summary', 'summary');
  private onlyDiffering = true;

  constructor(private readonly root: HTMLElement, private readonly host: Host) {}

  show(m: Extract<ExtensionToRunView, { type: 'compare' }>): void {
    this.runs = m.runs;
    this.grid = new ChartGrid(
      m.runs.map((r, i) => ({ runId: r.id, label: r.name, color: seriesColor(i) })),
      (msg) => this.host.post(msg),
    );
    this.root.replaceChildren(this.header, el('section', { class: 'charts-section', 'aria-label': 'Charts' }, this.grid.root), this.config.root, this.summary.root);
    this.renderHeader();
    this.renderTables();
    this.grid.renderAll();
  }

  metrics(m: Extract<ExtensionToRunView, { type: 'metrics' }>): void {
    this.grid?.receive(m.mode, m.x, m.runs);
  }

  runUpdated(run: Run): void {
    const i = this.runs.findIndex((r) => r.id === run.id);
    if (i < 0) return;
    this.runs[i] = run;
    this.renderHeader();
    this.renderTables();
  }

  private renderHeader(): void {
    const legend = el('ul', { class: 'legend' });
    this.runs.forEach((r, i) => {
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = seriesColor(i);
      legend.append(el('li', {}, swatch, action(r.name, `Open ${r.name}`, () => this.host.post({ type: 'openRun', runId: r.id })), el('span', { class: `state state-${r.state}` }, r.state), el('span', { class: 'muted' }, ` ${r.jobType ?? ''}${r.group ? ` · ${r.group}` : ''}`)));
    });
    this.header.replaceChildren(el('h1', {}, `Comparing ${this.runs.length} runs`), legend);
  }

  private diffTable(d: TableDiff, cls: string): HTMLElement {
    const t = el('table', { class: `diff ${cls}` });
    t.append(el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Key'), ...this.runs.map((r) => el('th', { scope: 'col' }, r.name)))));
    const body = el('tbody');
    for (const row of d.rows) {
      const tr = el('tr', { class: row.differs ? 'differs' : 'same' }, el('td', {}, el('code', {}, row.key)));
      row.cells.forEach((c, i) => tr.append(el('td', { class: row.missing[i] ? 'missing' : '' }, row.missing[i] ? '—' : c)));
      body.append(tr);
    }
    t.append(body);
    return t;
  }

  private renderTables(): void {
    const cfg = diffJson(this.runs.map((r) => r.config), { onlyDiffering: this.onlyDiffering });
    this.config.setCount(`${cfg.differing} differ`);
    const toggle = el('label', { class: 'toggle' });
    const box = el('input', { type: 'checkbox', class: 'only-differing' });
    box.checked = this.onlyDiffering;
    box.addEventListener('change', () => {
      this.onlyDiffering = box.checked;
      this.renderTables();
    });
    toggle.append(box, ' Only keys that differ');
    this.config.body.replaceChildren(toggle, cfg.rows.length ? this.diffTable(cfg, 'config-diff') : note(cfg.differing === 0 ? 'The configs are identical.' : 'No config keys.'));
    if (cfg.omitted) this.config.body.append(note(`${cfg.omitted} more keys were not compared (a config is very large).`, 'warning'));
    const sum = diffJson(this.runs.map((r) => r.summary));
    this.summary.setCount(`${sum.differing} differ`);
    this.summary.body.replaceChildren(sum.rows.length ? this.diffTable(sum, 'summary-diff') : note('No summary values.'));
  }
}
