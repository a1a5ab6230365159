/**
 * The experiments table: a project's runs as rows, chosen config and summary keys as sortable
 * columns, filters by state, job type, group and name; select runs to compare them.
 */
import type { Run } from '../../core/api.js';
import { availableColumns, defaultColumns, facetValues, filterRows, FIXED_COLUMNS, formatDuration, sortRows, toRows, type ExperimentFilter, type ExperimentRow } from '../../core/runs/experiments.js';
import { cellText } from '../../core/runs/runTables.js';
import type { ExperimentsPrefs, ExtensionToRunView } from '../../core/runViewMessages.js';
import { action, button, el, note } from './dom.js';
import type { Host } from './host.js';

const LABELS: Record<string, string> = { name: 'Name', state: 'State', jobType: 'Job type', group: 'Group', createdAt: 'Started', duration: 'Duration' };

export class ExperimentsPage {
  private rows: ExperimentRow[] = [];
  private runs: Run[] = [];
  private columns: string[] = [];
  /** Columns the user chose (null: the default choice, which follows the runs as they come). */
  private chosen: string[] | null = null;
  /** The project shown: choices are per project. */
  private project = '';
  private sort: { column: string; dir: 'asc' | 'desc' } = { column: 'createdAt', dir: 'desc' };
  private filter: ExperimentFilter = {};
  private readonly selected = new Set<string>();
  private readonly tableWrap = el('div', { class: 'table-wrap' });
  private readonly status = el('span', { class: 'status', 'aria-live': 'polite' });
  private readonly compareBtn: HTMLButtonElement;
  private title = '';

  constructor(private readonly root: HTMLElement, private readonly host: Host) {
    this.compareBtn = button('Compare selected', 'Compare 2–10 selected runs', () => this.host.post({ type: 'compareRuns', runIds: [...this.selected] }), 'compare');
  }

  show(m: Extract<ExtensionToRunView, { type: 'experiments' }>): void {
    const project = `${m.state.entity}/${m.state.project}`;
    if (project !== this.project) {
      // Another project (or the first message): its saved choices, else the defaults.
      this.project = project;
      this.selected.clear();
      this.chosen = m.prefs?.columns ?? null;
      this.sort = m.prefs?.sort ?? { column: 'createdAt', dir: 'desc' };
      this.filter = m.prefs?.filter ?? {};
    }
    this.runs = m.runs;
    this.rows = toRows(m.runs);
    this.columns = this.chosen ?? defaultColumns(this.rows);
    for (const id of [...this.selected]) if (!m.runs.some((r) => r.id === id)) this.selected.delete(id);
    this.title = project;
    this.renderChrome(m.truncated);
    this.renderTable();
  }

  /** Saves the current choices for this project (the extension keeps them in workspace state). */
  private savePrefs(): void {
    const prefs: ExperimentsPrefs = { columns: this.chosen, sort: this.sort, filter: this.filter };
    this.host.post({ type: 'experimentsPrefs', prefs });
  }

  private renderChrome(truncated: boolean): void {
    const facets = facetValues(this.runs);
    const multi = (label: string, values: string[], key: 'states' | 'jobTypes' | 'groups') => {
      const s = el('select', { 'aria-label': label, class: `filter-${key}` }, el('option', { value: '' }, `${label}: all`), ...values.map((v) => el('option', { value: v }, v || '(none)')));
      s.value = this.filter[key]?.[0] ?? '';
      s.addEventListener('change', () => {
        this.filter = { ...this.filter, [key]: s.value === '' ? [] : [s.value] };
        this.renderTable();
        this.savePrefs();
      });
      // An empty string is a real value here ("no group"); "all" is the first option.
      if (this.filter[key]?.length) s.selectedIndex = values.indexOf(this.filter[key]![0]) + 1;
      return s;
    };
    const search = el('input', { type: 'search', placeholder: 'Filter by name or id', 'aria-label': 'Filter runs by name', class: 'run-filter' });
    search.value = this.filter.text ?? '';
    search.addEventListener('input', () => {
      this.filter = { ...this.filter, text: search.value };
      this.renderTable();
      this.savePrefs();
    });
    const chooser = el('details', { class: 'columns-chooser' }, el('summary', {}, 'Columns…'));
    const list = el('div', { class: 'column-list' });
    // A saved column no run has now stays listed, so it can be unticked.
    const available = availableColumns(this.rows);
    for (const column of this.columns) if (!available.some((c) => c.column === column)) available.push({ column, count: 0 });
    for (const c of available) {
      const box = el('input', { type: 'checkbox', value: c.column });
      box.checked = this.columns.includes(c.column);
      box.addEventListener('change', () => {
        this.columns = box.checked ? [...this.columns, c.column] : this.columns.filter((x) => x !== c.column);
        this.chosen = this.columns;
        this.renderTable();
        this.savePrefs();
      });
      list.append(el('label', {}, box, ` ${c.column} `, el('span', { class: 'muted' }, `(${c.count})`)));
    }
    const reset = button('Reset columns', 'Show the default columns again (the config and summary keys most runs have)', () => {
      this.chosen = null;
      this.columns = defaultColumns(this.rows);
      for (const box of list.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')) box.checked = this.columns.includes(box.value);
      this.renderTable();
      this.savePrefs();
    }, 'reset-columns');
    // Inside the drop-down, above the keys (the list floats over whatever follows it).
    list.prepend(reset);
    chooser.append(list);
    const refresh = button('Refresh', 'Load the runs again', () => this.host.post({ type: 'refresh' }), 'refresh');
    const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Experiments' }, search, multi('State', facets.states, 'states'), multi('Job type', facets.jobTypes, 'jobTypes'), multi('Group', facets.groups, 'groups'), chooser, this.compareBtn, refresh, this.status);
    const children: Node[] = [el('h1', {}, `Experiments · ${this.title}`), toolbar];
    if (truncated) children.push(note('Only the newest runs are listed; narrow the project or filter on the server side for older ones.', 'warning'));
    children.push(this.tableWrap);
    this.root.replaceChildren(...children);
  }

  private renderTable(): void {
    const visible = sortRows(filterRows(this.rows, this.filter), this.sort.column, this.sort.dir);
    const cols = [...FIXED_COLUMNS, ...this.columns];
    const t = el('table', { class: 'experiments' });
    const head = el('tr', {}, el('th', { scope: 'col' }, ''));
    for (const c of cols) {
      const active = this.sort.column === c;
      const th = el('th', { scope: 'col', 'aria-sort': active ? (this.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none', 'data-column': c });
      th.append(button(`${LABELS[c] ?? c}${active ? (this.sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}`, `Sort by ${c}`, () => {
        this.sort = { column: c, dir: active && this.sort.dir === 'desc' ? 'asc' : active ? 'desc' : c === 'name' ? 'asc' : 'desc' };
        this.renderTable();
        this.savePrefs();
      }, 'sort'));
      head.append(th);
    }
    const body = el('tbody');
    for (const r of visible) {
      const box = el('input', { type: 'checkbox', 'aria-label': `Select ${r.run.name}` });
      box.checked = this.selected.has(r.run.id);
      box.addEventListener('change', () => {
        if (box.checked) this.selected.add(r.run.id);
        else this.selected.delete(r.run.id);
        this.updateCompare();
      });
      const tr = el('tr', { 'data-run': r.run.id }, el('td', {}, box));
      for (const c of cols) {
        const v = r.values.get(c);
        let cell: Node | string;
        if (c === 'name') cell = action(r.run.name, 'Open the run view', () => this.host.post({ type: 'openRun', runId: r.run.id }));
        else if (c === 'state') cell = el('span', { class: `state state-${r.run.state}` }, r.run.state);
        else if (c === 'duration') cell = formatDuration(typeof v === 'number' ? v : null);
        else if (c === 'createdAt') cell = new Date(r.run.createdAt).toLocaleString();
        else cell = v === undefined || v === null ? '' : cellText(v);
        tr.append(el('td', { class: typeof v === 'number' && c !== 'duration' ? 'num' : '' }, cell));
      }
      body.append(tr);
    }
    t.append(el('thead', {}, head), body);
    this.tableWrap.replaceChildren(visible.length ? t : note(this.rows.length ? 'No run matches the filters.' : 'No runs in this project yet.'));
    this.status.textContent = `${visible.length} of ${this.rows.length} runs`;
    this.updateCompare();
  }

  private updateCompare(): void {
    const n = this.selected.size;
    this.compareBtn.disabled = n < 2 || n > 10;
    this.compareBtn.textContent = n ? `Compare ${n} selected` : 'Compare selected';
  }
}
