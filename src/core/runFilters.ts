/**
 * W&B's MongoDB-style run filters (`Api.runs(path, {filters})`), evaluated on the client. One rule
 * set for the TypeScript SDK; the Python client's run_filters.py mirrors it (python/tests compares
 * the two through ts_core_oracle.ts).
 *
 * Keys: "config.<key>" (also W&B's "config.<key>.value"), "summary_metrics.<key>" (also "summary.<key>"),
 * "state", "tags", "display_name" (also "name"), "jobType", "group", "createdAt", "id"; nested keys
 * with dots. Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex, and $and $or $nor $not.
 * A plain value means $eq; for "tags" (a list) $eq/$in mean "has the tag", as in MongoDB.
 */
import { AmphoraError } from './errors.js';

const MISSING = Symbol('missing');
type Value = unknown;
export type Filters = Record<string, unknown>;

const FIELDS: Record<string, string> = {
  display_name: 'name', name: 'name', state: 'state', tags: 'tags', jobType: 'jobType', job_type: 'jobType',
  group: 'group', createdAt: 'createdAt', created_at: 'createdAt', id: 'id',
};

export function runMatches(run: Record<string, unknown>, filters: Filters | null | undefined): boolean {
  return matches(run, filters, lookupRun);
}

/** The same operators on any record; `lookup(record, key)` reads a field (or MISSING). */
export function matches(data: Record<string, unknown>, filters: Filters | null | undefined, lookup: (d: Record<string, unknown>, key: string) => Value): boolean {
  if (filters === null || filters === undefined || (typeof filters === 'object' && !Array.isArray(filters) && Object.keys(filters).length === 0)) return true;
  if (typeof filters !== 'object' || Array.isArray(filters)) {
    throw new AmphoraError('invalid_request', `filters must be an object such as {"config.lr": {"$gt": 0.01}}, got ${JSON.stringify(filters)}.`);
  }
  for (const [key, cond] of Object.entries(filters)) {
    let ok: boolean;
    if (key === '$and') ok = list(key, cond).every((f) => matches(data, f as Filters, lookup));
    else if (key === '$or') ok = list(key, cond).some((f) => matches(data, f as Filters, lookup));
    else if (key === '$nor') ok = !list(key, cond).some((f) => matches(data, f as Filters, lookup));
    else if (key.startsWith('$')) throw new AmphoraError('invalid_request', `Unknown filter operator ${JSON.stringify(key)} at the top level; use $and, $or or $nor.`);
    else ok = fieldMatches(lookup(data, key), cond, key);
    if (!ok) return false;
  }
  return true;
}

function list(op: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new AmphoraError('invalid_request', `${op} takes a list of filters, got ${JSON.stringify(value)}.`);
  return value;
}

function lookupRun(run: Record<string, unknown>, key: string): Value {
  const parts = key.split('.');
  const head = parts[0];
  if (head === 'config') {
    const config = (run.config as Record<string, unknown>) ?? {};
    const rest = parts.slice(1);
    if (rest.length >= 2 && rest[rest.length - 1] === 'value') {
      // W&B stores config as {"lr": {"value": 0.1}}
      const found = walk(config, rest);
      return found !== MISSING ? found : walk(config, rest.slice(0, -1));
    }
    return walk(config, rest);
  }
  if (head === 'summary_metrics' || head === 'summary') return walk((run.summary as Record<string, unknown>) ?? {}, parts.slice(1));
  const field = FIELDS[head];
  if (field === undefined || parts.length > 1) {
    throw new AmphoraError('invalid_request', `Unknown run filter key ${JSON.stringify(key)}; use config.<key>, summary_metrics.<key>, state, tags, display_name, jobType, group, createdAt or id.`);
  }
  return field in run ? run[field] : MISSING;
}

function walk(value: unknown, parts: string[]): Value {
  let v: unknown = value;
  for (const p of parts) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !(p in (v as object))) return MISSING;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function fieldMatches(value: Value, cond: unknown, key: string): boolean {
  const isOps = typeof cond === 'object' && cond !== null && !Array.isArray(cond) && Object.keys(cond).length > 0 && Object.keys(cond).every((k) => k.startsWith('$'));
  if (!isOps) return equals(value, cond);
  for (const [op, arg] of Object.entries(cond as Record<string, unknown>)) {
    let ok: boolean;
    if (op === '$eq') ok = equals(value, arg);
    else if (op === '$ne') ok = !equals(value, arg);
    else if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') ok = compare(op, value, arg);
    else if (op === '$in') ok = list(op, arg).some((a) => equals(value, a));
    else if (op === '$nin') ok = !list(op, arg).some((a) => equals(value, a));
    else if (op === '$exists') ok = (value !== MISSING) === Boolean(arg);
    else if (op === '$regex') ok = typeof value === 'string' && new RegExp(String(arg)).test(value);
    else if (op === '$not') ok = !fieldMatches(value, arg, key);
    else throw new AmphoraError('invalid_request', `Unknown filter operator ${JSON.stringify(op)} on ${JSON.stringify(key)}; use $eq $ne $gt $gte $lt $lte $in $nin $exists $regex or $not.`);
    if (!ok) return false;
  }
  return true;
}

/** Numbers with numbers, strings with strings; anything else does not compare (Python raises TypeError there). */
function compare(op: string, a: Value, b: unknown): boolean {
  const numbers = typeof a === 'number' && typeof b === 'number';
  const strings = typeof a === 'string' && typeof b === 'string';
  if (!numbers && !strings) return false;
  const x = a as number | string;
  const y = b as number | string;
  return op === '$gt' ? x > y : op === '$gte' ? x >= y : op === '$lt' ? x < y : x <= y;
}

function equals(value: Value, wanted: unknown): boolean {
  if (Array.isArray(value) && !Array.isArray(wanted)) return value.some((v) => same(v, wanted));
  return value !== MISSING && same(value, wanted);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in (b as object) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
