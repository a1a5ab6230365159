/** Logged tables: the `.table.json` check (with files the Python client really writes), cells, sorting, filtering, a run's tables. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cellKind, filterTableRows, imageCell, loggedTables, parseTableFile, quoteNonFiniteTokens, sortTableRows, tableCellText, type TableFile } from '../../src/core/runs/tableFile.js';

const REPO = path.resolve(import.meta.dirname, '../..');

/** Writes a table with the Python client's own Table class and returns the file's text. */
function pythonTable(script: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'amphora-table-'));
  try {
    execFileSync('python3', ['-c', `import amphora as wandb\n${script}\nfname, _ = t._write(${JSON.stringify(dir)}, "t_0_0")\nprint(fname)`], { env: { ...process.env, PYTHONPATH: path.join(REPO, 'python') }, encoding: 'utf8' });
    return readFileSync(path.join(dir, 't_0_0.table.json'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ok = (text: string): TableFile => {
  const r = parseTableFile(text);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.table;
};

describe('logged tables: the table file', () => {
  it('reads what wandb.Table writes from Python, NaN and infinities included, images as image cells', () => {
    const t = ok(pythonTable('t = wandb.Table(columns=["id", "loss", "img", "meta"], data=[[1, float("nan"), wandb.Image([[0, 255], [255, 0]], caption="checker"), {"a": [1, 2]}], [2, float("inf"), None, "x"]])'));
    assert.deepEqual(t.columns, ['id', 'loss', 'img', 'meta']);
    assert.equal(t.data.length, 2);
    assert.equal(t.data[0][1], 'NaN');
    assert.equal(t.data[1][1], 'Infinity');
    assert.equal(cellKind(t.data[0][2]), 'image');
    assert.deepEqual(imageCell(t.data[0][2]), { pixels: [[0, 255], [255, 0]], path: null, caption: 'checker' });
    assert.equal(tableCellText(t.data[0][2]), 'image: checker');
    assert.equal(cellKind(t.data[0][3]), 'nested');
    assert.equal(tableCellText(t.data[0][3]), '{"a":[1,2]}');
    assert.equal(cellKind(t.data[1][2]), 'empty');
  });

  it('leaves NaN inside strings alone and rewrites only bare tokens', () => {
    assert.equal(quoteNonFiniteTokens('["NaN \\" Infinity", NaN, -Infinity]'), '["NaN \\" Infinity", "NaN", "-Infinity"]');
    assert.equal(quoteNonFiniteTokens('{"a": 1}'), '{"a": 1}');
  });

  it('refuses what is not a table with a message that says what is wrong and what to do', () => {
    const bad = (text: string) => {
      const r = parseTableFile(text, 'm.table.json');
      assert.ok(!r.ok, `accepted ${text}`);
      return r.error;
    };
    assert.match(bad('{"_type": "table", "columns": ["a"'), /^m\.table\.json is not valid JSON .*Open it as JSON/);
    assert.match(bad('{"_type": "image", "columns": [], "data": []}'), /at _type: expected "_type": "table"/);
    assert.match(bad('{"_type": "table", "columns": ["a", "b"], "data": [[1, 2], [3]]}'), /at data\.1: row 1 has 1 cells but the table has 2 columns/);
    assert.match(bad('{"_type": "table", "columns": ["a"], "data": [5]}'), /row 0 has no list of cells/);
    assert.match(bad('[]'), /not a table file/);
  });
});

describe('logged tables: sorting and filtering', () => {
  const table: TableFile = { columns: ['name', 'score'], data: [['img-10', 3], ['img-2', 'NaN'], ['img-1', null], ['cat', 10], ['dog', 'high']] };
  const all = Uint32Array.from(table.data.keys());
  const names = (rows: Uint32Array) => Array.from(rows, (i) => table.data[i][0]);

  it('sorts numbers numerically, then NaN, then text; empty cells last in both directions', () => {
    assert.deepEqual(names(sortTableRows(table, all, 1, 'asc')), ['img-10', 'cat', 'img-2', 'dog', 'img-1']);
    assert.deepEqual(names(sortTableRows(table, all, 1, 'desc')), ['dog', 'img-2', 'cat', 'img-10', 'img-1']);
    assert.deepEqual(names(sortTableRows(table, all, 0, 'asc')), ['cat', 'dog', 'img-1', 'img-2', 'img-10'], 'natural order of text');
  });

  it('filters by every word, in any cell, case-insensitively; sorting keeps to the filtered rows', () => {
    assert.deepEqual(names(filterTableRows(table, 'IMG')), ['img-10', 'img-2', 'img-1']);
    assert.deepEqual(names(filterTableRows(table, 'img nan')), ['img-2']);
    assert.deepEqual(names(filterTableRows(table, '')), names(all));
    assert.deepEqual(names(sortTableRows(table, filterTableRows(table, 'img'), 0, 'desc')), ['img-10', 'img-2', 'img-1']);
  });

  it('sorts and filters 100,000 rows', () => {
    const big: TableFile = { columns: ['i', 'v'], data: Array.from({ length: 100_000 }, (_, i) => [i, (i * 7919) % 100_003]) };
    const sorted = sortTableRows(big, Uint32Array.from(big.data.keys()), 1, 'asc');
    assert.equal(sorted.length, 100_000);
    for (let k = 1; k < sorted.length; k++) assert.ok((big.data[sorted[k - 1]][1] as number) <= (big.data[sorted[k]][1] as number));
    assert.equal(filterTableRows(big, '99999').length > 0, true);
  });
});

describe('logged tables of a run', () => {
  it('lists media/tables files by key, step and index, mapping file-name keys back to logged keys', () => {
    const files = [
      { path: 'media/tables/preds_10_0.table.json', size: 5 },
      { path: 'media/tables/preds_2_0.table.json', size: 6 },
      { path: 'media/tables/val_preds_2_1.table.json', size: 7 },
      { path: 'media/images/preds_2_0.png', size: 8 },
      { path: 'model.table.json', size: 9 },
    ];
    const t = loggedTables(files, (k) => (k === 'val_preds' ? 'val/preds' : k));
    assert.deepEqual(t.map((x) => `${x.key}@${x.step}#${x.index}`), ['preds@2#0', 'preds@10#0', 'val/preds@2#1']);
    assert.equal(t[0].size, 6);
  });
});
