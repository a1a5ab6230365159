/**
 * Input the database cannot hold, refused up front with a 400 instead of failing deep inside a
 * query: PostgreSQL text and jsonb reject NUL characters and unpaired UTF-16 surrogates, and its
 * JSON parser (and ours) recurse per nesting level.
 */
import { AmphoraError } from '../core/errors.js';

/** Deeper JSON than any metadata or config needs; far below what blows a parser's stack. */
export const MAX_JSON_DEPTH = 100;
/** Largest value of a PostgreSQL `integer` column (version numbers, cursors over them). */
export const MAX_INT4 = 2_147_483_647;

/** Nesting depth of a JSON text (objects and arrays), counted without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Throws a 400 when a JSON request body nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string): void {
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new AmphoraError('invalid_request', `The JSON body nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted. Flatten the metadata or config.`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored, or undefined when it can. */
function unstorable(s: string): string | undefined {
  if (s.includes('\u0000')) return 'a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'an unpaired UTF-16 surrogate (invalid Unicode)';
  return undefined;
}

/**
 * Walks a request part (params, query, JSON body) and throws a 400 naming the first string
 * (value or key) the database could not store. Iterative, so hostile nesting cannot overflow it.
 */
export function checkStorableStrings(where: string, value: unknown, keyRule?: (parentPath: string, key: string) => void): void {
  // Paths are built only for the message of a bad string: a history batch holds millions of keys.
  type Node = { v: unknown; parent: Node | null; seg: string | number };
  const pathOf = (n: Node | null): string => {
    if (!n || n.parent === null) return '';
    const up = pathOf(n.parent);
    return typeof n.seg === 'number' ? `${up}[${n.seg}]` : up ? `${up}.${shown(n.seg)}` : shown(n.seg);
  };
  const stack: Node[] = [{ v: value, parent: null, seg: '' }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.v;
    if (typeof v === 'string') {
      const why = unstorable(v);
      if (why) throw badString(where, pathOf(node), why);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === 'object' || typeof v[i] === 'string') stack.push({ v: v[i], parent: node, seg: i });
    } else if (v && typeof v === 'object') {
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const why = unstorable(k);
        if (why) {
          const path = pathOf(node);
          keyRule?.(path, k); // a more specific rule for this key may explain it better
          throw badString(where, `${path}.<key ${shown(k)}>`, why);
        }
        const child = (v as Record<string, unknown>)[k];
        if ((child !== null && typeof child === 'object') || typeof child === 'string') stack.push({ v: child, parent: node, seg: k });
      }
    }
  }
}

/** A key as it can be quoted in a message: short, without control characters or lone surrogates. */
function shown(k: string): string {
  // eslint-disable-next-line no-control-regex
  return k.slice(0, 60).replace(/[\u0000-\u001f\u007f]/g, '?').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\ufffd');
}

function badString(where: string, path: string, why: string): AmphoraError {
  return new AmphoraError('invalid_request', `The ${where}${path ? ` field "${path}"` : ''} contains ${why}, which cannot be stored; remove it and send the request again.`);
}
