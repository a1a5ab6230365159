/**
 * W&B's `define_metric`: which summary a logged metric gets (min, max, mean, first, last, best or
 * none) and which rows get the step metric filled in (step_sync). One implementation of the rules
 * for the TypeScript SDK; the Python client's metric_summary.py mirrors it (checked against this
 * module by python/tests through ts_core_oracle.ts).
 */
import { AmphoraError } from './errors.js';

export const SUMMARY_KINDS = ['min', 'max', 'mean', 'first', 'last', 'best', 'none'] as const;
export type SummaryKind = (typeof SUMMARY_KINDS)[number];

export interface MetricDefinition {
  name: string;
  stepMetric?: string;
  stepSync?: boolean;
  summary: SummaryKind[];
  goal?: 'minimize' | 'maximize';
}

export interface DefineMetricOptions {
  stepMetric?: string;
  stepSync?: boolean;
  /** One kind or several, comma-separated ("min,max"), as W&B accepts. */
  summary?: string;
  goal?: string;
  /** Without it a second definition of the same name adds to the first (its summaries accumulate). */
  overwrite?: boolean;
}

interface Tally {
  seen: boolean;
  min?: number;
  max?: number;
  sum: number;
  count: number;
  first?: unknown;
  last?: unknown;
}

/** The definitions of one run and what has been logged for them. */
export class MetricSummaries {
  private readonly defs = new Map<string, MetricDefinition>();
  private readonly tallies = new Map<string, Tally>();
  private readonly lastValues = new Map<string, unknown>();

  define(name: string, opts: DefineMetricOptions = {}): MetricDefinition {
    if (typeof name !== 'string' || !name || (name.includes('*') && !name.endsWith('*'))) {
      throw new AmphoraError('invalid_request', `define_metric: name must be a metric name or a glob ending in "*" such as "val/*", got ${JSON.stringify(name)}.`);
    }
    const kinds = parseSummary(opts.summary);
    const goal = parseGoal(opts.goal);
    const before = opts.overwrite ? undefined : this.defs.get(name);
    const def: MetricDefinition = {
      name,
      stepMetric: opts.stepMetric ?? before?.stepMetric,
      stepSync: opts.stepSync ?? before?.stepSync,
      summary: [...new Set([...(before?.summary ?? []), ...kinds])],
      goal: goal ?? before?.goal,
    };
    if (def.summary.includes('best') && !def.goal) {
      throw new AmphoraError('invalid_request', `define_metric("${name}", summary="best") needs goal="minimize" or goal="maximize" to know which value is best.`);
    }
    this.defs.set(name, def);
    return def;
  }

  /** The definition that applies to a key: its own, else the last defined glob that matches it. */
  definitionOf(key: string): MetricDefinition | undefined {
    const own = this.defs.get(key);
    if (own) return own;
    let found: MetricDefinition | undefined;
    for (const d of this.defs.values()) if (d.name.endsWith('*') && key.startsWith(d.name.slice(0, -1))) found = d;
    return found;
  }

  /**
   * Fills in step metrics (a row logging `val/loss` without `epoch` gets the last `epoch` when
   * `val/*` is defined with stepMetric "epoch"; step_sync defaults to true, as in W&B).
   */
  syncSteps(row: Record<string, unknown>): Record<string, unknown> {
    const out = { ...row };
    for (const key of Object.keys(row)) {
      const def = this.definitionOf(key);
      if (!def?.stepMetric || def.stepSync === false || def.stepMetric in out) continue;
      if (this.lastValues.has(def.stepMetric)) out[def.stepMetric] = this.lastValues.get(def.stepMetric);
    }
    for (const [k, v] of Object.entries(out)) this.lastValues.set(k, v);
    return out;
  }

  /** Summary changes for one committed row: the last value by default, else the defined kinds ("none": no entry). */
  summarize(row: Record<string, unknown>): Record<string, unknown> {
    const set: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) {
      const def = this.definitionOf(key);
      if (!def || def.summary.length === 0) {
        set[key] = value;
        continue;
      }
      if (def.summary.includes('none')) continue;
      const t = this.tally(key, value);
      const out: Record<string, unknown> = {};
      for (const kind of def.summary) {
        const v = kindValue(kind, t, def.goal);
        if (v !== undefined) out[kind] = v;
      }
      set[key] = out;
    }
    return set;
  }

  private tally(key: string, value: unknown): Tally {
    const t = this.tallies.get(key) ?? { seen: false, sum: 0, count: 0 };
    if (!t.seen) t.first = value;
    t.seen = true;
    t.last = value;
    if (typeof value === 'number' && Number.isFinite(value)) {
      t.min = t.min === undefined ? value : Math.min(t.min, value);
      t.max = t.max === undefined ? value : Math.max(t.max, value);
      t.sum += value;
      t.count += 1;
    }
    this.tallies.set(key, t);
    return t;
  }
}

function kindValue(kind: SummaryKind, t: Tally, goal: MetricDefinition['goal']): unknown {
  switch (kind) {
    case 'min':
      return t.min;
    case 'max':
      return t.max;
    case 'mean':
      return t.count ? t.sum / t.count : undefined;
    case 'first':
      return t.first;
    case 'last':
      return t.last;
    case 'best':
      return goal === 'maximize' ? t.max : t.min;
    default:
      return undefined;
  }
}

function parseSummary(summary: string | undefined): SummaryKind[] {
  if (summary === undefined || summary === null) return [];
  if (typeof summary !== 'string') throw new AmphoraError('invalid_request', `define_metric: summary must be a string such as "min" or "min,max", got ${JSON.stringify(summary)}.`);
  const kinds = summary.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const k of kinds) {
    if (!(SUMMARY_KINDS as readonly string[]).includes(k)) {
      throw new AmphoraError('invalid_request', `define_metric: summary "${k}" is not one of ${SUMMARY_KINDS.join(', ')}.`);
    }
  }
  return kinds as SummaryKind[];
}

function parseGoal(goal: string | undefined): MetricDefinition['goal'] {
  if (goal === undefined || goal === null) return undefined;
  const g = String(goal).toLowerCase();
  if (g === 'minimize' || g === 'min') return 'minimize';
  if (g === 'maximize' || g === 'max') return 'maximize';
  throw new AmphoraError('invalid_request', `define_metric: goal must be "minimize" or "maximize", got ${JSON.stringify(goal)}.`);
}
