/**
 * Text from a server (names, descriptions, metadata, run config, error messages) shown in the
 * editor: a server can put Markdown, HTML, links (`[Open](command:…)`), theme icons (`$(…)`) or
 * control characters in any string, so every such string goes through one of these before it
 * reaches a MarkdownString, a notification or a webview. Free of `vscode` (unit-tested in Node).
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Every ASCII punctuation character: CommonMark lets each be backslash-escaped to a literal. */
const PUNCTUATION = /[!-/:-@[-`{-~]/g;

/** Markdown-safe text that keeps its line breaks (descriptions): every character shows as itself. */
export function escapeMarkdown(s: string): string {
  return String(s)
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL, '')
    .replace(PUNCTUATION, (c) => `\\${c}`);
}

/** Markdown-safe text on one line (names, labels, table cells). */
export function escapeMarkdownInline(s: string): string {
  return escapeMarkdown(String(s).replace(/\s*[\r\n]+\s*/g, ' ').replace(/^ +/, ''));
}

/** An inline code span holding `s` exactly (fenced with more backticks than `s` contains). */
export function codeSpan(s: string): string {
  const text = String(s).replace(CONTROL, '').replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text === '' ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * `[title](command:id?args)` for a MarkdownString whose `isTrusted` enables exactly `command`.
 * Arguments may hold server strings: every character that could end the link target (`)`, spaces,
 * quotes) is percent-encoded, so an argument can never add a second link.
 */
export function commandLink(title: string, command: string, args: unknown[]): string {
  const encoded = encodeURIComponent(JSON.stringify(args)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `[${escapeMarkdownInline(title)}](command:${command}?${encoded})`;
}

/**
 * A notification message: VS Code turns `[text](target)` in notifications into links (including
 * `command:` targets), so link syntax from a server is broken apart; control characters are
 * dropped and the length bounded.
 */
export function notificationText(s: string, max = 1000): string {
  const text = String(s).replace(CONTROL, '').replace(/\](\s*)\(/g, '] (');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
