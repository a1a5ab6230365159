/** Small DOM helpers for the run webviews (text only through textContent: nothing is parsed as HTML). */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export function button(text: string, title: string, onClick: () => void, cls?: string): HTMLButtonElement {
  const b = el('button', { type: 'button', title });
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener('click', onClick);
  return b;
}

/** A link-styled button (keyboard reachable, no navigation). */
export function action(text: string, title: string, onClick: () => void): HTMLButtonElement {
  return button(text, title, onClick, 'link');
}

/** A collapsible section with a heading and a count. */
export function section(title: string, id: string, open = true): { root: HTMLDetailsElement; body: HTMLElement; setCount(n: string): void } {
  const root = el('details', { class: 'section', id });
  root.open = open;
  const count = el('span', { class: 'count' });
  const summary = el('summary', {}, el('h2', {}, title), count);
  const body = el('div', { class: 'section-body' });
  root.append(summary, body);
  return { root, body, setCount: (n) => (count.textContent = n) };
}

/** A two-or-more column table; `cells` are strings or nodes. */
export function table(cls: string, head: string[], rows: Array<Array<Node | string>>, rowClass?: (i: number) => string | undefined): HTMLTableElement {
  const t = el('table', { class: cls });
  const thead = el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h))));
  const tbody = el('tbody');
  rows.forEach((r, i) => {
    const tr = el('tr', {}, ...r.map((c) => el('td', {}, c)));
    const c = rowClass?.(i);
    if (c) tr.className = c;
    tbody.append(tr);
  });
  t.append(thead, tbody);
  return t;
}

export function note(text: string, kind: 'info' | 'warning' | 'error' = 'info'): HTMLElement {
  return el('p', { class: `note note-${kind}`, role: kind === 'error' ? 'alert' : 'note' }, text);
}

/** Series colours from the theme's chart palette (fallbacks for a bare page). */
const PALETTE: Array<[string, string]> = [
  ['--vscode-charts-blue', '#1a85ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#388a34'],
  ['--vscode-charts-red', '#e51400'],
  ['--vscode-charts-purple', '#652d90'],
  ['--vscode-charts-yellow', '#bf8803'],
  ['--vscode-terminal-ansiCyan', '#0598bc'],
  ['--vscode-terminal-ansiMagenta', '#bc05bc'],
  ['--vscode-terminal-ansiBrightBlack', '#666666'],
  ['--vscode-terminal-ansiGreen', '#14ce14'],
];

/*
 * Theme colours are read once and kept until the theme changes (VS Code swaps the body's class and
 * the root's CSS variables): reading computed style after each chart's DOM changes would make the
 * browser recalculate styles once per chart.
 */
const themeCache = new Map<string, string>();
let watchingTheme = false;

export function themeColor(variable: string, fallback: string): string {
  if (!watchingTheme && typeof MutationObserver !== 'undefined') {
    watchingTheme = true;
    const clear = new MutationObserver(() => themeCache.clear());
    clear.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
    clear.observe(document.body, { attributes: true, attributeFilter: ['style', 'class'] });
  }
  let v = themeCache.get(variable);
  if (v === undefined) {
    v = getComputedStyle(document.body).getPropertyValue(variable).trim();
    themeCache.set(variable, v);
  }
  return v || fallback;
}

export function seriesColor(i: number): string {
  const [v, f] = PALETTE[i % PALETTE.length];
  return themeColor(v, f);
}
