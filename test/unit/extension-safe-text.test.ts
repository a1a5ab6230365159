/**
 * Server strings shown in the editor: rendered with markdown-it (the renderer VS Code uses for
 * MarkdownString; here from @vscode/vsce's dependencies), hostile names, descriptions, config and
 * messages must come out as literal text — no links, images, HTML, headings or theme icons.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { ArtifactVersion } from '../../src/core/api.js';
import { collectionMarkdown, metadataTable, runMarkdown, versionMarkdown } from '../../src/extension/logic/format.js';
import { codeSpan, commandLink, escapeMarkdown, escapeMarkdownInline, notificationText } from '../../src/extension/logic/safeText.js';

type Md = { render(s: string): string; renderInline(s: string): string };
const MarkdownIt = createRequire(import.meta.url)('markdown-it') as new (o: object) => Md;
const md = new MarkdownIt({ html: true, linkify: true });

const HOSTILE = [
  '[Open](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%20-rf%20~%22%7D)',
  '![x](https://evil.example/pixel.png)',
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '# Heading\n\n---\n\n> quote',
  'https://evil.example/autolink and www.evil.example',
  '$(alert) theme icon',
  '*bold* _it_ `code` ~~s~~ | a | b |',
  '&lt;b&gt; &amp; entity',
  'line1\r\nline2\u202eRTL\u0000nul',
  '[ref]: https://evil.example\n\n[ref]',
];

/** Visible text of rendered HTML (tags dropped, entities decoded). */
function text(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}
/** No element a server string could have made (`strict`: not even emphasis or code). */
function assertInert(html: string, strict = true) {
  assert.doesNotMatch(html, strict ? /<(a|img|script|h\d|hr|blockquote|table|del|em|strong|code)\b/ : /<(a|img|script|h\d|hr|blockquote|del|em)\b/, html);
}

describe('extension: server strings are escaped everywhere they are shown', () => {
  it('escapeMarkdownInline renders every hostile string as exactly its literal text', () => {
    for (const s of HOSTILE) {
      const html = md.renderInline(escapeMarkdownInline(s));
      assertInert(html);
      const want = s.replace(/[\u0000-\u001f\u202e]+/g, (m) => (/[\r\n]/.test(m) ? ' ' : '')).replace(/\s*[\r\n]+\s*/g, ' ');
      assert.equal(text(html), want.replace(/ +/g, ' ').replace(/\s*\r?\n\s*/g, ' '), s);
      assert.doesNotMatch(escapeMarkdownInline(s), /\$\(/, 'no theme icon syntax survives');
    }
  });

  it('escapeMarkdown keeps line breaks but no block syntax', () => {
    const html = md.render(escapeMarkdown('# Title\n\n- item\n1. one\n    indented\n> quote\n[a](command:x)'));
    assertInert(html);
    assert.doesNotMatch(html, /<(ul|ol|li|pre)\b/);
    assert.match(text(html), /# Title/);
  });

  it('codeSpan holds any string, backticks included, as one code span', () => {
    for (const s of ['plain', 'a`b', '``x``', '`', '']) {
      const html = md.renderInline(codeSpan(s));
      assert.equal((html.match(/<code>/g) ?? []).length, 1, html);
      assert.equal(text(html).trim(), s.trim() === '' ? '' : s.trim());
    }
  });

  it('run, collection and version tooltips show hostile server data literally', () => {
    const run = { name: HOSTILE[0], id: 'r1', jobType: HOSTILE[1], group: HOSTILE[2], state: 'running', createdAt: 'not a date', config: { [HOSTILE[3]]: HOSTILE[4], lr: 0.1 } };
    const runHtml = md.render(runMarkdown(run));
    assertInert(runHtml, false);
    assert.ok(text(runHtml).includes(HOSTILE[0]), 'the run name shows literally');
    const collHtml = md.render(collectionMarkdown({ name: 'data', type: 'dataset', description: HOSTILE.join('\n') }));
    assertInert(collHtml, false);
    const v = {
      id: 'x)', entity: 'e', project: 'p', name: 'n', type: 't', version: 'v1', index: 1, digest: 'a'.repeat(64), size: 1, fileCount: 1,
      aliases: ['latest'], description: HOSTILE[0], metadata: { [HOSTILE[1]]: HOSTILE[0] }, state: 'committed', createdAt: 'garbage', updatedAt: '',
      producerRun: { id: HOSTILE[2], name: HOSTILE[6], jobType: null },
    } as ArtifactVersion;
    const vHtml = md.render(versionMarkdown(v));
    assertInert(vHtml, false);
    assert.doesNotMatch(md.render(metadataTable({ '|': '|\n|' })), /<td>\s*<\/td>\s*<td>\s*<\/td>\s*<td>/, 'cells cannot add columns');
  });

  it('command links keep server strings inside their arguments (no second link, no early close)', () => {
    const link = commandLink('Show Lineage', 'amphora.showLineage', [{ id: 'x) [Evil](command:evil.cmd' }]);
    const html = md.renderInline(link);
    assert.equal((html.match(/<a /g) ?? []).length, 1, html);
    assert.match(html, /href="command:amphora\.showLineage\?/);
    assert.doesNotMatch(html, /command:evil/);
  });

  it('notification text breaks link syntax apart, drops control characters and stays bounded', () => {
    assert.equal(notificationText('see [docs](command:evil) now'), 'see [docs] (command:evil) now');
    assert.equal(notificationText('a\u0000b\u202ec'), 'abc');
    assert.equal(notificationText('x'.repeat(5000)).length, 1000);
  });
});
