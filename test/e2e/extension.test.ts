/**
 * The extension in a real VS Code (code-server 4.100.3) driven through Chromium: the sidebar
 * tree, Log as Artifact… from the Explorer, the CodeLens following a new version logged from
 * the SDK, the hover with metadata, and Use Artifact… downloading files.
 * Screenshots of every step land in test-results/e2e/.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { init } from '../../src/client/run.js';
import { startHarness, until, type Harness } from './harness.js';
import { acceptQuickInput, answerQuickInput, contextMenu, expand, hoverText, runCommand, showSideBar, treeRow } from './ui.js';

const PROJECT = 'e2e-demo';
const TRAIN_PY = `import amphora as wandb

run = wandb.init(project="${PROJECT}", job_type="train")
raw = run.use_artifact("mnist-raw:latest")
path = raw.download()
best = wandb.Api().artifact("${PROJECT}/mnist-raw:best")
missing = run.use_artifact("no-such-data:latest")
`;

const rowByText = async (page: Page, view: string, text: string | RegExp) => treeRow(page, view, text);

async function quickInput(page: Page, titlePart: RegExp, value?: string) {
  await answerQuickInput(page, titlePart, value);
}

describe('e2e: the Amphora extension in code-server', function () {
  this.timeout(240_000);
  let h: Harness;
  let client: Client;

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({
      files: {
        'data/train.csv': 'x,y\n1,2\n3,4\n',
        'data/test.csv': 'x,y\n5,6\n',
        'data/labels/classes.txt': 'zero\none\n',
        'train.py': TRAIN_PY,
      },
    });
    client = await Client.connect({ baseUrl: h.server.url, apiKey: h.server.apiKey, cacheDir: path.join(h.root, 'sdk-cache'), env: {} });
    // v0 from a pipeline run (the extension connects through the discovery file in the data dir).
    const seed = path.join(h.root, 'seed');
    mkdirSync(seed, { recursive: true });
    writeFileSync(path.join(seed, 'train.csv'), 'x,y\n0,0\n');
    const run = await init({ client, project: PROJECT, jobType: 'load-data' });
    const a = new Artifact('mnist-raw', 'dataset', { description: 'raw MNIST split', metadata: { source: 'keras.datasets', rows: 70000 } });
    await a.addDir(seed);
    await run.logArtifact(a);
    await run.finish();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && h) await h.shot(`failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.stop();
  });

  it('shows logged artifacts and versions in the sidebar tree', async () => {
    const { page } = h;
    await showSideBar(page, 'Amphora');
    await (await rowByText(page, 'Artifacts', PROJECT)).waitFor({ timeout: 30_000 });
    await (await rowByText(page, 'Artifacts', PROJECT)).click();
    await (await rowByText(page, 'Artifacts', 'mnist-raw')).click({ timeout: 15_000 });
    const v0 = await rowByText(page, 'Artifacts', /v0.*latest/);
    await v0.waitFor({ timeout: 15_000 });
    await v0.hover();
    await hoverText(page, /digest/);
    await h.shot('01-tree-versions');
    assert.match((await v0.textContent()) ?? '', /latest/);
    // Runs tree: project → job type → run → outputs → the version it logged.
    await (await rowByText(page, 'Runs', PROJECT)).click();
    await (await rowByText(page, 'Runs', 'load-data')).click({ timeout: 15_000 });
    await (await rowByText(page, 'Runs', /-\d+\s*finished/)).click({ timeout: 15_000 });
    await (await rowByText(page, 'Runs', 'mnist-raw:v0')).waitFor({ timeout: 15_000 });
    await h.shot('01b-runs-tree');
    await assert.doesNotReject(until('status bar connected', async () => (await page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 10_000));
  });

  it('Log as Artifact… on a folder makes a new version that appears in the tree', async () => {
    const { page } = h;
    await showSideBar(page, 'Explorer');
    const folder = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^data$/ }).first();
    await folder.waitFor({ timeout: 15_000 });
    await contextMenu(page, folder, 'Log as Artifact…');
    await quickInput(page, /project/);
    await h.shot('02-log-name');
    await acceptQuickInput(page, 'mnist-raw');
    await quickInput(page, /type/);
    await quickInput(page, /aliases/, 'candidate');
    await quickInput(page, /description/, 'from the explorer');
    await until('v1 on the server', async () => (await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v1')).fileCount === 3, 30_000);
    await showSideBar(page, 'Amphora');
    const v1 = await rowByText(page, 'Artifacts', /v1.*latest/);
    await v1.waitFor({ timeout: 10_000 });
    await h.shot('03-logged-v1');
    assert.match((await v1.textContent()) ?? '', /candidate/);
    // Files of a version open read-only through the amphora: file system; a folder row only expands.
    await expand(v1);
    const tabs = page.locator('.tabs-container .tab');
    const tabsBefore = await tabs.count();
    const folderRow = await rowByText(page, 'Artifacts', /^\s*labels/);
    await folderRow.click({ timeout: 10_000 });
    await until('labels expanded', async () => (await folderRow.getAttribute('aria-expanded')) === 'true', 10_000);
    // The click has been handled once the folder's own child shows; only then can "no editor" mean anything.
    await (await rowByText(page, 'Artifacts', /^\s*classes\.txt/)).waitFor({ timeout: 10_000 });
    assert.equal(await tabs.count(), tabsBefore, 'a folder row opens no editor');
    await (await rowByText(page, 'Artifacts', /^\s*classes\.txt/)).click({ timeout: 10_000 });
    const fileTab = tabs.filter({ hasText: 'classes.txt' }).first();
    await fileTab.waitFor({ timeout: 15_000 });
    await until('the file content from the server', async () => ((await page.locator('.monaco-editor .view-lines').first().textContent()) ?? '').includes('zero'), 15_000);
    // Read-only: typing into it changes nothing.
    const lines = page.locator('.monaco-editor .view-lines').first();
    await lines.click();
    await page.keyboard.type('X');
    // VS Code answers a keystroke in a read-only editor with this message: the key was handled.
    await page.locator('.monaco-editor-overlaymessage').filter({ hasText: /read-only/i }).first().waitFor({ timeout: 10_000 });
    assert.doesNotMatch((await lines.textContent()) ?? '', /X/, 'the amphora: file is read-only');
    await h.shot('03b-tree-file-opened');
  });

  it('the CodeLens on use_artifact("…:latest") shows the version and moves after a new log from the SDK', async () => {
    const { page } = h;
    await showSideBar(page, 'Explorer');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^train\.py$/ }).first().click();
    const lens = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:latest →' }).first();
    await until('lens → v1', async () => /→ v1 · 3 files/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 30_000);
    const unknown = page.locator('.codelens-decoration').filter({ hasText: 'no-such-data:latest' }).first();
    await until('unknown lens', async () => /no-such-data:latest → unknown artifact "no-such-data" in [^ ]+\/e2e-demo/.test((await unknown.textContent({ timeout: 1000 })) ?? ''), 10_000);
    // The artifact exists but the alias does not: the lens says exactly that.
    const noAlias = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:best →' }).first();
    await until('missing alias lens', async () => /mnist-raw has no alias "best" \(aliases: latest, candidate\)/.test((await noAlias.textContent({ timeout: 1000 })) ?? ''), 10_000);
    await h.shot('04-codelens-v1');
    // A pipeline logs v2 from the terminal side; the lens must follow without any refresh.
    const dir = path.join(h.root, 'seed2');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'train.csv'), 'x,y\n9,9\n');
    writeFileSync(path.join(dir, 'extra.csv'), 'x\n1\n');
    const a = new Artifact('mnist-raw', 'dataset', { metadata: { source: 'sdk', rows: 2 } });
    await a.addDir(dir);
    const started = Date.now();
    await a.log({ client, project: PROJECT });
    assert.equal(a.version, 'v2');
    await until('lens → v2', async () => /→ v2 · 2 files/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 15_000, 100);
    const moved = Date.now() - started;
    await h.shot('05-codelens-moved-v2');
    assert.ok(moved < 10_000, `lens moved after ${moved} ms`);
    console.log(`      lens moved ${moved} ms after the SDK logged v2`);
  });

  it('the hover on the reference shows the version and its metadata', async () => {
    const { page } = h;
    const token = page.locator('.view-lines span').filter({ hasText: 'mnist-raw:latest' }).last();
    await token.hover();
    const hover = page.locator('.monaco-hover:visible, .monaco-resizable-hover:visible').first();
    await until('hover with metadata', async () => /rows/.test((await hover.textContent({ timeout: 1000 })) ?? ''), 15_000);
    const text = (await hover.textContent()) ?? '';
    await h.shot('06-hover-metadata');
    assert.match(text, /v2/);
    assert.match(text, /source/);
    assert.match(text, /sdk/);
    assert.match(text, /digest/);
    assert.match(text, /Show Lineage/, 'the hover links to the lineage');
  });

  it('Use Artifact… downloads the files into the workspace', async () => {
    const { page } = h;
    await page.keyboard.press('Escape');
    await runCommand(page, 'Amphora: Use Artifact…');
    await quickInput(page, /Use Artifact/, 'mnist-raw:v1');
    const dest = path.join(h.workspace, 'artifacts', 'mnist-raw:v1');
    await until('downloaded files', () => existsSync(path.join(dest, 'labels', 'classes.txt')) && existsSync(path.join(dest, 'train.csv')), 30_000);
    assert.equal(readFileSync(path.join(dest, 'train.csv'), 'utf8'), 'x,y\n1,2\n3,4\n');
    assert.equal(readFileSync(path.join(dest, 'labels', 'classes.txt'), 'utf8'), 'zero\none\n');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'mnist-raw:v1' }).first().waitFor({ timeout: 10_000 });
    await h.shot('07-use-artifact-downloaded');
  });

  it('an alias added from the tree shows on the version, and its lens follows when the alias moves', async () => {
    const { page } = h;
    await showSideBar(page, 'Amphora');
    await expand(await rowByText(page, 'Artifacts', 'mnist-raw'));
    const v0 = await rowByText(page, 'Artifacts', /^\s*v0/);
    await v0.waitFor({ timeout: 10_000 });
    await contextMenu(page, v0, 'Add Alias…');
    await quickInput(page, /Add alias/, 'best');
    await until('v0 shows best', async () => /best/.test((await (await rowByText(page, 'Artifacts', /^\s*v0/)).textContent({ timeout: 1000 })) ?? ''), 10_000);
    await h.shot('08-alias-added');
    await showSideBar(page, 'Explorer');
    const lens = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:best →' }).first();
    await until('best lens → v0', async () => /→ v0/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 15_000);
    await client.http.updateVersion(client.entity, PROJECT, 'mnist-raw', 'v2', { aliases: { add: ['best'] } });
    await until('best lens → v2', async () => /→ v2/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 10_000, 100);
    await h.shot('09-alias-moved-lens');
    // The tree follows the move too.
    await showSideBar(page, 'Amphora');
    await (await rowByText(page, 'Artifacts', /v2\s*latest, best/)).waitFor({ timeout: 10_000 });
    assert.doesNotMatch((await (await rowByText(page, 'Artifacts', /^\s*v0/)).textContent()) ?? '', /best/);
    await showSideBar(page, 'Explorer');
  });

  it('Edit Metadata opens the version\'s metadata as JSON and saving applies it on the server', async () => {
    const { page } = h;
    await showSideBar(page, 'Amphora');
    await expand(await rowByText(page, 'Artifacts', 'mnist-raw'));
    const v1 = await rowByText(page, 'Artifacts', /^\s*v1/);
    await contextMenu(page, v1, 'Edit Metadata');
    const tab = page.locator('.tab').filter({ hasText: 'v1.metadata.json' }).first();
    await tab.waitFor({ timeout: 15_000 });
    const editor = page.locator('.editor-instance .monaco-editor').filter({ has: page.locator('.view-lines') }).last();
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // Monaco auto-closes brackets and quotes; type a version of the text that survives that.
    await page.keyboard.insertText('{ "split": "train", "rows": 3 }');
    await page.keyboard.press('Control+S');
    await until('metadata saved on the server', async () => {
      const v = await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v1');
      return v.metadata.split === 'train' && v.metadata.rows === 3;
    }, 15_000);
    await h.shot('10a-edit-metadata');
    await page.keyboard.press('Control+W');
  });

  it('Delete Version… asks twice for an aliased version, then the version leaves the tree', async () => {
    const { page } = h;
    await showSideBar(page, 'Amphora');
    const v1 = await rowByText(page, 'Artifacts', /^\s*v1/);
    await contextMenu(page, v1, 'Delete Version…');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.filter({ hasText: 'Delete e2e-demo/mnist-raw:v1?' }).waitFor({ timeout: 10_000 });
    await h.shot('10b-delete-confirm');
    await dialog.locator('.monaco-button').filter({ hasText: /^Delete$/ }).click();
    await dialog.filter({ hasText: 'has aliases: candidate' }).waitFor({ timeout: 10_000 });
    await h.shot('10c-delete-aliased-confirm');
    await dialog.locator('.monaco-button').filter({ hasText: 'Delete With Aliases' }).click();
    await until('v1 deleted on the server', async () => {
      try {
        await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v1');
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'not_found';
      }
    }, 10_000);
    await until('v1 gone from the tree', async () => (await page.locator('.pane .monaco-list-row').filter({ hasText: /^\s*v1\s/ }).count()) === 0, 10_000);
    await h.shot('10d-deleted');
  });

  it('long lists page: 100 versions, then a "Load more…" row loads the rest', async () => {
    const { page } = h;
    // 105 versions of one artifact committed straight through the API (one blob, different paths).
    const file = path.join(h.root, 'one.txt');
    writeFileSync(file, 'one');
    const first = new Artifact('many', 'zz-batch');
    await first.addFile(file, { name: 'f0' });
    await first.log({ client, project: PROJECT });
    const { digest } = (await first.manifest()).f0;
    for (let i = 1; i < 105; i++) {
      await client.http.commitVersion(client.entity, PROJECT, 'many', { type: 'zz-batch', manifest: { [`f${i}`]: { digest, size: 3 } } });
    }
    await showSideBar(page, 'Amphora');
    await expand(await rowByText(page, 'Artifacts', new RegExp(`^\\s*${PROJECT}`)));
    await expand(await rowByText(page, 'Artifacts', /^\s*zz-batch/));
    const many = await rowByText(page, 'Artifacts', /^\s*many/);
    await until('many has 105 versions', async () => /105 versions/.test((await many.textContent({ timeout: 1000 })) ?? ''), 15_000);
    await expand(many);
    // The list is virtualized: walk to its end with the keyboard.
    const artifactsPane = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }) });
    const focused = artifactsPane.locator('.monaco-list-row.focused');
    await until('Load more… at the end', async () => {
      await page.keyboard.press('End');
      return /Load more/.test((await focused.textContent({ timeout: 1000 })) ?? '');
    }, 15_000, 300);
    // v104…v5 are shown (100 rows); v4…v0 wait behind "Load more…".
    assert.equal(await artifactsPane.locator('.monaco-list-row[aria-label^="v4 "]').count(), 0);
    await h.shot('10e-load-more');
    await page.keyboard.press('Enter');
    await until('v0 after loading more', async () => {
      await page.keyboard.press('End');
      if (((await focused.getAttribute('aria-label', { timeout: 1000 })) ?? '').startsWith('v0 ')) return true;
      // Events of the 105 commits may still reload the tree under load: a press that lands while
      // the list reloads finds no row to load into (the extension says so), and is pressed again.
      if (/Load more/.test((await focused.textContent({ timeout: 1000 })) ?? '')) await page.keyboard.press('Enter');
      return false;
    }, 30_000, 500);
    await h.shot('10f-loaded-more');
    // A new artifact of the project (of a type listed last) rebuilds the tree from the event; the
    // versions loaded above stay: two rows up from the new artifact's row is still v0.
    await client.http.commitVersion(client.entity, PROJECT, 'after', { type: 'zzz-after', manifest: { f: { digest, size: 3 } } });
    await until('the new artifact as the last row', async () => {
      await page.keyboard.press('End');
      return ((await focused.getAttribute('aria-label', { timeout: 1000 })) ?? '').startsWith('after ');
    }, 15_000, 300);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    assert.match((await focused.getAttribute('aria-label', { timeout: 1000 })) ?? '', /^v0 /, 'the list kept the versions "Load more…" brought in');
  });

  it('when the local server goes away, the extension starts its bundled server (VS Code\'s Node) on the same store', async () => {
    const { page } = h;
    await h.stopServer();
    const discovery = path.join(h.dataDir, 'server.json');
    const started = await until('a new server in the discovery file', () => {
      try {
        const d = JSON.parse(readFileSync(discovery, 'utf8'));
        return d.pid !== h.server.pid ? d : undefined;
      } catch {
        return undefined;
      }
    }, 60_000, 300);
    // It runs from the installed .vsix, not from the repository.
    const cmdline = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.some((a) => a.startsWith(path.join(h.root, 'extensions')) && a.endsWith('dist/server.mjs')), cmdline.join(' '));
    const health = await fetch(`${started.url}/api/v1/health`);
    assert.equal(health.status, 200);
    await until('status bar connected again', async () => (await page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 30_000);
    await showSideBar(page, 'Amphora');
    // The list is still scrolled to the end of the 105 versions (rows out of view are not rendered).
    const artifactsPane = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }) });
    await until('the Artifacts list at its top', async () => {
      // A rendered version row takes the focus (the list renders only the rows in view), Home goes up.
      const rows = artifactsPane.locator('.monaco-list-row');
      for (let i = (await rows.count()) - 1; i >= 0; i--) {
        if (await rows.nth(i).isVisible()) {
          await rows.nth(i).click({ timeout: 5_000 });
          break;
        }
      }
      await page.keyboard.press('Home');
      return (await rowByText(page, 'Artifacts', PROJECT)).isVisible();
    }, 20_000, 300);
    await expand(await rowByText(page, 'Artifacts', PROJECT));
    await expand(await rowByText(page, 'Artifacts', 'mnist-raw'));
    await (await rowByText(page, 'Artifacts', /v2\s*latest, best/)).waitFor({ timeout: 20_000 });
    // Lenses resolve again against the new server.
    const lens = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:latest →' }).first();
    await until('lens resolved after reconnect, with its actions', async () => /→ v2 · 2 files.*Reveal.*Lineage.*Download/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 20_000);
    await h.shot('10-bundled-server');
  });

  it('Sign In connects to a server by URL with an API key kept in secret storage', async () => {
    const { page } = h;
    const d = JSON.parse(readFileSync(path.join(h.dataDir, 'server.json'), 'utf8'));
    await runCommand(page, 'Amphora: Sign In');
    await quickInput(page, /Sign In$/, d.url);
    await quickInput(page, /Sign In to http/, d.apiKey);
    // The status bar names the user and the server it signed in to (USER@HOST).
    const signedIn = page.locator('.statusbar-item').filter({ hasText: new RegExp(`Amphora: \\S+@${new URL(d.url).host.replace(/[.]/g, '\\.')}`) });
    await until('status bar: user@server', async () => (await signedIn.count()) > 0, 20_000);
    await showSideBar(page, 'Amphora');
    await (await rowByText(page, 'Artifacts', PROJECT)).waitFor({ timeout: 15_000 });
    await signedIn.first().hover();
    await hoverText(page, /connected to/);
    await h.shot('11-signed-in-team');
  });
});
