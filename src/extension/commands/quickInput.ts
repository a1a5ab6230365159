/** Quick-input helpers: a pick list that also accepts free text. */
import * as vscode from 'vscode';
import { notificationText } from '../logic/safeText.js';
import { forEditorUsers } from '../logic/editorAdvice.js';

export interface PickOrTypeOptions {
  title: string;
  placeholder: string;
  items: { label: string; description?: string }[];
  /** Pre-selected value (the first item when it matches). */
  value?: string;
  validate?: (value: string) => string | undefined;
  step?: number;
  totalSteps?: number;
}

/** Resolves to the chosen or typed text, or undefined when dismissed. */
export function pickOrType(opts: PickOrTypeOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem>();
    qp.title = opts.title;
    qp.placeholder = opts.placeholder;
    qp.step = opts.step;
    qp.totalSteps = opts.totalSteps;
    qp.ignoreFocusOut = true;
    qp.matchOnDescription = true;
    const base: vscode.QuickPickItem[] = opts.items.map((i) => ({ label: i.label, description: i.description }));
    const typedItem = (v: string): vscode.QuickPickItem => ({ label: v, description: 'use this' });
    const sorted = opts.value ? [...base.filter((i) => i.label === opts.value), ...base.filter((i) => i.label !== opts.value)] : [...base];
    if (opts.value && !sorted.some((i) => i.label === opts.value)) sorted.unshift(typedItem(opts.value));
    qp.items = sorted;
    qp.onDidChangeValue((v) => {
      const exact = base.some((i) => i.label === v);
      qp.items = v && !exact ? [typedItem(v), ...base] : sorted;
      const problem = v && opts.validate ? opts.validate(v) : undefined;
      qp.title = problem ? `${opts.title} — ${problem}` : opts.title;
    });
    let done = false;
    qp.onDidAccept(() => {
      const chosen = qp.selectedItems[0]?.label ?? qp.activeItems[0]?.label ?? qp.value;
      if (!chosen) return;
      const problem = opts.validate?.(chosen);
      if (problem) {
        qp.title = `${opts.title} — ${problem}`;
        return;
      }
      done = true;
      resolve(chosen);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

/** Runs `fn`, showing its error (the server's message says what to do) instead of throwing. */
export async function reportErrors<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    void vscode.window.showErrorMessage(notificationText(`${what}: ${forEditorUsers((e as Error).message)}`));
    return undefined;
  }
}
