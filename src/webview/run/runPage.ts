/**
 * The run view: header (state, job type, group, duration, code), charts of every numeric metric,
 * other logged values, logged images, config and summary, the artifacts used and logged, and
 * the saved files.
 */
import { formatBytes } from '../../core/bytes.js';
import type { MetricKey, Run } from '../../core/api.js';
import { formatDuration, runDurationMs } from '../../core/runs/experiments.js';
import { imageSteps } from '../../core/runs/runMedia.js';
import { cellText, flattenJson } from '../../core/runs/runTables.js';
import type { ExtensionToRunView } from '../../core/runViewMessages.js';
import { ChartGrid } from './chartGrid.js';
import { action, button, el, note, section, seriesColor, table } from './dom.js';
import type { Host } from './host.js';
import { TableView } from './tableView.js';

type RunMessage = Extract<ExtensionToRunView, { type: 'run' }>;
type GalleryImage = RunMessage['images'][number];
type RunTable = RunMessage['tables'][number];
/** Table texts kept for switching back and forth (each may be megabytes). */
const TABLES_KEPT = 4;

export function jsonTable(obj: unknown, what: string, cls: string): HTMLElement {
  const flat = flattenJson(obj);
  if (flat.rows.length === 0) return note(`No ${what} recorded.`);
  const wrap = el('div', {}, table(`kv ${cls}`, ['Key', 'Value'], flat.rows.map((r) => [el('code', {}, r.key), cellText(r.value)])));
  if (flat.omitted) wrap.append(note(`${flat.omitted} more keys are not shown (the ${what} is very large).`, 'warning'));
  return wrap;
}

export class RunPage {
  private run!: Run;
  private grid!: ChartGrid;
  private readonly header = el('header', { class: 'run-header' });
  private readonly values = section('Other logged values', 'values', false);
  private readonly gallery = section('Images', 'images');
  private readonly tablesSection = section('Tables', 'tables');
  private readonly tableView = new TableView();
  private tables: RunTable[] = [];
  private tablePath = '';
  private readonly tableTexts = new Map<string, { text: string | null; error: string | null }>();
  private readonly config = section('Config', 'config');
  private readonly summary = section('Summary', 'summary');
  private readonly artifacts = section('Artifacts', 'artifacts');
  private readonly files = section('Files', 'files', false);
  private readonly imageData = new Map<string, string | Error>();
  private images: GalleryImage[] = [];
  private galleryKey = '';
  private galleryStep = 0;

  constructor(private readonly root: HTMLElement, private readonly host: Host) {}

  show(m: RunMessage): void {
    this.run = m.run;
    this.grid = new ChartGrid([{ runId: m.run.id, label: m.run.name, color: seriesColor(0) }], (msg) => this.host.post(msg));
    const charts = el('section', { class: 'charts-section', 'aria-label': 'Charts' }, this.grid.root);
    this.root.replaceChildren(this.header, charts, this.values.root, this.gallery.root, this.tablesSection.root, this.config.root, this.summary.root, this.artifacts.root, this.files.root);
    this.renderHeader();
    this.renderTables();
    this.renderArtifacts(m);
    this.renderFiles(m);
    this.images = m.images;
    this.renderGallery(m.imagesOmitted);
    this.tables = m.tables;
    this.renderLoggedTables();
    this.grid.renderAll();
  }

  metrics(m: Extract<ExtensionToRunView, { type: 'metrics' }>): void {
    if (!this.grid) return;
    this.grid.receive(m.mode, m.x, m.runs);
    const mine = m.runs.find((r) => r.runId === this.run.id);
    if (mine && m.mode !== 'zoom') this.renderValues(mine.metrics.keys);
  }

  runUpdated(run: Run): void {
    if (!this.run || run.id !== this.run.id) return;
    this.run = run;
    this.renderHeader();
    this.renderTables();
  }

  image(m: Extract<ExtensionToRunView, { type: 'image' }>): void {
    this.imageData.set(m.path, m.dataUrl ?? new Error(m.error ?? 'could not be loaded'));
    for (const img of this.root.querySelectorAll<HTMLElement>('.gallery-item')) if (img.dataset.path === m.path) this.fillImage(img, m.path);
  }

  /** A table file's text arrived (or why it could not be read). */
  table(m: Extract<ExtensionToRunView, { type: 'table' }>): void {
    this.tableTexts.set(m.path, { text: m.text, error: m.error });
    while (this.tableTexts.size > TABLES_KEPT) this.tableTexts.delete(this.tableTexts.keys().next().value!);
    if (m.path === this.tablePath) this.tableView.show(m.text, m.error, m.path);
  }

  /** Logged tables: a key, a step slider (like the gallery) and, when a step logged several, which one. */
  private renderLoggedTables(): void {
    const keys = [...new Set(this.tables.map((t) => t.key))];
    this.tablesSection.root.hidden = keys.length === 0;
    this.tablesSection.setCount(String(this.tables.length));
    if (keys.length === 0) return;
    let key = keys.includes(this.tables.find((t) => t.path === this.tablePath)?.key ?? '') ? this.tables.find((t) => t.path === this.tablePath)!.key : keys[0];
    const select = el('select', { 'aria-label': 'Table key', class: 'table-key' }, ...keys.map((k) => el('option', { value: k }, k)));
    select.value = key;
    const steps = () => [...new Set(this.tables.filter((t) => t.key === key).map((t) => t.step))].sort((a, b) => a - b);
    const slider = el('input', { type: 'range', class: 'step-slider table-step', min: '0', step: '1', 'aria-label': 'Step' });
    const stepLabel = el('output', { class: 'step-label table-step-label' });
    const which = el('select', { 'aria-label': 'Table at this step', class: 'table-index' });
    const update = (index?: number) => {
      const s = steps();
      slider.max = String(Math.max(0, s.length - 1));
      const i = Math.min(Number(slider.value), s.length - 1);
      const step = s[i] ?? 0;
      stepLabel.textContent = `step ${step} (${i + 1} of ${s.length})`;
      const atStep = this.tables.filter((t) => t.key === key && t.step === step);
      which.replaceChildren(...atStep.map((t, j) => el('option', { value: String(t.index) }, `table ${j + 1} of ${atStep.length}`)));
      which.hidden = atStep.length < 2;
      const chosen = atStep.find((t) => t.index === index) ?? atStep[0];
      which.value = String(chosen.index);
      this.openTable(chosen);
    };
    select.addEventListener('change', () => {
      key = select.value;
      slider.value = String(steps().length - 1);
      update();
    });
    slider.addEventListener('input', () => update());
    which.addEventListener('change', () => update(Number(which.value)));
    slider.max = String(Math.max(0, steps().length - 1));
    slider.value = slider.max;
    const open = action('Open in editor', 'Open this table file in its own editor tab', () => this.host.post({ type: 'openFile', runId: this.run.id, path: this.tablePath }));
    this.tablesSection.body.replaceChildren(el('div', { class: 'gallery-controls table-controls' }, select, slider, stepLabel, which, open), this.tableView.root);
    update();
  }

  private openTable(t: RunTable): void {
    if (t.path === this.tablePath && this.tableView.root.childElementCount) return;
    this.tablePath = t.path;
    const known = this.tableTexts.get(t.path);
    if (known) return this.tableView.show(known.text, known.error, t.path);
    this.tableView.loading(t.path);
    this.host.post({ type: 'loadTable', path: t.path });
  }

  private renderHeader(): void {
    const r = this.run;
    const state = el('span', { class: `state state-${r.state}` }, r.state);
    const meta: Array<[string, string]> = [
      ['job type', r.jobType ?? '—'],
      ['group', r.group ?? '—'],
      ['duration', formatDuration(runDurationMs(r)) + (r.state === 'running' ? ' so far' : '')],
      ['owner', r.entity],
      ['project', r.project],
      ['started', new Date(r.createdAt).toLocaleString()],
      ['id', r.id],
    ];
    const dl = el('dl', { class: 'meta' });
    for (const [k, v] of meta) dl.append(el('dt', {}, k), el('dd', { 'data-field': k }, v));
    const tags = (r.tags ?? []).map((t) => el('span', { class: 'tag' }, t));
    const refresh = button('Refresh', 'Load the run again', () => this.host.post({ type: 'refresh' }), 'refresh');
    this.header.replaceChildren(el('div', { class: 'title-row' }, el('h1', {}, r.name), state, ...tags, refresh), dl, this.codeLine());
    if (r.notes) this.header.append(el('p', { class: 'run-notes' }, r.notes));
  }

  private codeLine(): HTMLElement {
    const p = this.run.provenance;
    const line = el('div', { class: 'code-line' }, el('span', { class: 'label' }, 'code'));
    if (!p || !p.program) {
      line.append(el('span', { class: 'muted' }, 'not recorded (a client that records code provenance logs the program and git commit)'));
      return line;
    }
    line.append(action(p.program, 'Open the program in the editor (at the recorded commit when the work tree moved on)', () => this.host.post({ type: 'openCode', runId: this.run.id, callSite: null })));
    if (p.git) {
      line.append(el('span', { class: 'commit', title: p.git.commit }, ` @ ${p.git.commit.slice(0, 8)}${p.git.branch ? ` (${p.git.branch})` : ''}`));
      if (p.git.dirty) {
        line.append(el('span', { class: 'dirty' }, ' · uncommitted changes'));
        if (p.git.diffFile) {
          const diff = p.git.diffFile;
          line.append(' ', action('view diff', 'Open the recorded `git diff HEAD`', () => this.host.post({ type: 'openFile', runId: this.run.id, path: diff })));
          if (p.git.diffTruncated) line.append(el('span', { class: 'muted' }, ' (truncated at 1 MiB)'));
        }
      }
    } else line.append(el('span', { class: 'muted' }, ' · no git'));
    return line;
  }

  private renderTables(): void {
    this.config.body.replaceChildren(jsonTable(this.run.config, 'config', 'config-table'));
    this.config.setCount(String(flattenJson(this.run.config).rows.length));
    this.summary.body.replaceChildren(jsonTable(this.run.summary, 'summary', 'summary-table'));
    this.summary.setCount(String(flattenJson(this.run.summary).rows.length));
  }

  private renderValues(keys: MetricKey[]): void {
    const imageKeys = new Set(this.images.map((i) => i.key));
    const other = keys.filter((k) => !k.numeric && !imageKeys.has(k.key) && !isMedia(k.last));
    this.values.setCount(String(other.length));
    this.values.root.hidden = other.length === 0;
    this.values.body.replaceChildren(
      table('kv values-table', ['Key', 'Last value', 'Rows', 'Steps'], other.map((k) => [el('code', {}, k.key), cellText(k.last), String(k.count), `${k.firstStep}–${k.lastStep}`])),
    );
  }

  private renderArtifacts(m: RunMessage): void {
    const rows = (list: RunMessage['inputs'], kind: 'used' | 'logged') =>
      list.map((v) => {
        const target = { entity: v.entity, project: v.project, name: v.name, version: v.version };
        const site = kind === 'used' ? v.usedAt : v.callSite;
        const actions = el('span', { class: 'actions' },
          action('Reveal', 'Reveal in the Artifacts view', () => this.host.post({ type: 'artifact', action: 'reveal', version: target })),
          action('Lineage', 'Show the lineage around this version', () => this.host.post({ type: 'artifact', action: 'lineage', version: target })),
        );
        if (site) {
          actions.append(
            kind === 'logged'
              ? action(`${site.file}:${site.line}`, 'Open Producer Code: the line that logged this version', () => this.host.post({ type: 'artifact', action: 'producerCode', version: target }))
              : action(`${site.file}:${site.line}`, 'Open the line that used this version', () => this.host.post({ type: 'openCode', runId: this.run.id, callSite: site })),
          );
        }
        return [kind, el('code', {}, `${v.name}:${v.version}`), v.type, formatBytes(v.size), actions];
      });
    const all = [...rows(m.inputs, 'used'), ...rows(m.outputs, 'logged')];
    this.artifacts.setCount(`${m.inputs.length} used · ${m.outputs.length} logged`);
    this.artifacts.body.replaceChildren(all.length ? table('artifacts-table', ['', 'Version', 'Type', 'Size', ''], all) : note('This run used and logged no artifacts.'));
  }

  private renderFiles(m: RunMessage): void {
    this.files.setCount(String(m.files.length));
    this.files.body.replaceChildren(
      m.files.length
        ? table('files-table', ['Path', 'Size', ''], m.files.map((f) => [el('code', {}, f.path), formatBytes(f.size), action('Open', 'Open read-only in an editor', () => this.host.post({ type: 'openFile', runId: this.run.id, path: f.path }))]))
        : note('No saved files (save them with run.save(path)).'),
    );
  }

  private renderGallery(omitted: number): void {
    const keys = [...new Set(this.images.map((i) => i.key))];
    this.gallery.root.hidden = keys.length === 0;
    this.gallery.setCount(String(this.images.length));
    if (keys.length === 0) return;
    if (!keys.includes(this.galleryKey)) this.galleryKey = keys[0];
    const select = el('select', { 'aria-label': 'Image key' }, ...keys.map((k) => el('option', { value: k }, k)));
    select.value = this.galleryKey;
    const steps = () => imageSteps(this.images, this.galleryKey);
    const slider = el('input', { type: 'range', class: 'step-slider', min: '0', step: '1', 'aria-label': 'Step' });
    const stepLabel = el('output', { class: 'step-label' });
    const items = el('div', { class: 'gallery' });
    const update = () => {
      const s = steps();
      slider.max = String(Math.max(0, s.length - 1));
      const i = Math.min(Number(slider.value), s.length - 1);
      this.galleryStep = s[i] ?? 0;
      stepLabel.textContent = `step ${this.galleryStep} (${i + 1} of ${s.length})`;
      const shown = this.images.filter((im) => im.key === this.galleryKey && im.step === this.galleryStep);
      items.replaceChildren(...shown.map((im) => this.galleryItem(im)));
    };
    select.addEventListener('change', () => {
      this.galleryKey = select.value;
      slider.value = String(steps().length - 1);
      update();
    });
    slider.addEventListener('input', update);
    slider.max = String(Math.max(0, steps().length - 1));
    slider.value = slider.max;
    const controls = el('div', { class: 'gallery-controls' }, select, slider, stepLabel);
    this.gallery.body.replaceChildren(controls, items);
    if (omitted) this.gallery.body.append(note(`${omitted} older images are not shown.`, 'warning'));
    update();
  }

  private galleryItem(im: GalleryImage): HTMLElement {
    const fig = el('figure', { class: 'gallery-item', 'data-path': im.path });
    this.fillImage(fig, im.path, im.caption);
    return fig;
  }

  private fillImage(fig: HTMLElement, path: string, caption?: string | null): void {
    const data = this.imageData.get(path);
    const cap = caption ?? fig.querySelector('figcaption')?.textContent ?? null;
    const capEl = cap ? el('figcaption', {}, cap) : null;
    if (data === undefined) {
      fig.replaceChildren(el('div', { class: 'placeholder' }, 'Loading…'), ...(capEl ? [capEl] : []));
      this.host.post({ type: 'loadImage', path });
    } else if (data instanceof Error) {
      fig.replaceChildren(note(`${path}: ${data.message}`, 'error'), ...(capEl ? [capEl] : []));
    } else {
      fig.replaceChildren(el('img', { src: data, alt: cap ?? path, title: path }), ...(capEl ? [capEl] : []));
    }
  }
}

function isMedia(v: unknown): boolean {
  const t = (v as { _type?: unknown } | null)?._type;
  return typeof t === 'string' && /^(image|images|image-file|table-file|tables)$/.test(t);
}
