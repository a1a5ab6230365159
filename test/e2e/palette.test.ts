/**
 * Every command the Command Palette offers, run from the palette with nothing selected and no
 * argument, as a new user would: each one asks for what it needs (project → artifact → version)
 * instead of failing, and then does its job. Also the editor features in a Jupyter notebook's
 * Python cells (opened with VS Code's built-in .ipynb support; no Jupyter extension or kernel is
 * needed to edit one). Screenshots land in test-results/e2e/palette-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { init } from '../../src/client/run.js';
import { REPO, startHarness, until, type Harness } from './harness.js';
import { acceptQuickInput, answerQuickInput, hoverText, runCommand, showSideBar, treeRow, waitForQuickInput } from './ui.js';

const PROJECT = 'palette-demo';
const OTHER = 'other-project';

/** Where each palette command is exercised with no argument (this file unless named). */
const PALETTE_COMMANDS: Record<string, string> = {
  'amphora.refresh': 'here',
  'amphora.signIn': 'extension.test.ts and team.test.ts',
  'amphora.signOut': 'here',
  'amphora.reconnect': 'here',
  'amphora.showOutput': 'here',
  'amphora.openCliTerminal': 'here',
  'amphora.logArtifact': 'here',
  'amphora.useArtifact': 'here and extension.test.ts',
  'amphora.version.copyReference': 'here',
  'amphora.version.download': 'here',
  'amphora.version.addAlias': 'here',
  'amphora.version.removeAlias': 'here',
  'amphora.version.editDescription': 'here',
  'amphora.version.editMetadata': 'here',
  'amphora.version.delete': 'here',
  'amphora.version.revealProducerRun': 'here',
  'amphora.revealReference': 'here',
  'amphora.showLineage': 'here and lineage.test.ts',
  'amphora.compareVersions': 'here and lineage.test.ts',
  'amphora.openProducerCode': 'here (from a lens: runs.test.ts)',
  'amphora.showExperiments': 'here',
};

function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: source.split(/(?<=\n)/) })),
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  }, null, 1);
}

const NOTEBOOK = notebook([
  `import amphora as wandb\nrun = wandb.init(project="${PROJECT}", job_type="explore")\n`,
  'raw = run.use_artifact("mnist-raw:latest")\ntypo = run.use_artifact("mnist-rwa:latest")\n',
]);

/** Answers the picker's steps: project (asked: two projects, no setting), artifact, version. */
async function pickVersion(page: Page, title: string, project: string, artifact: string, version: string) {
  await answerQuickInput(page, new RegExp(`^${title}: project`), project);
  await answerQuickInput(page, new RegExp(`^${title}: artifact in ${project}`), artifact);
  await answerQuickInput(page, new RegExp(`^${title}: version of ${project}/${artifact}`), version);
}

async function noErrorToast(page: Page) {
  const errors = page.locator('.notifications-toasts .notification-toast').filter({ has: page.locator('.codicon-error') });
  assert.equal(await errors.count(), 0, (await errors.allTextContents()).join(' | '));
}

describe('e2e: every palette command with no context, and notebooks', function () {
  this.timeout(240_000);
  let h: Harness;
  let client: Client;

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({ files: { 'data/train.csv': 'x,y\n1,2\n', 'analysis.ipynb': NOTEBOOK } });
    client = await Client.connect({ baseUrl: h.server.url, apiKey: h.server.apiKey, cacheDir: path.join(h.root, 'sdk-cache'), env: {} });
    const seed = (name: string, files: Record<string, string>) => {
      const dir = path.join(h.root, `seed-${name}`);
      mkdirSync(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
      return dir;
    };
    const run = await init({ client, project: PROJECT, jobType: 'load-data' });
    const v0 = new Artifact('mnist-raw', 'dataset', { metadata: { rows: 1 } });
    await v0.addDir(seed('v0', { 'train.csv': 'x,y\n0,0\n' }));
    await run.logArtifact(v0);
    await run.finish();
    const v1 = new Artifact('mnist-raw', 'dataset', { metadata: { rows: 2 } });
    await v1.addDir(seed('v1', { 'train.csv': 'x,y\n0,0\n1,1\n' }));
    await v1.log({ client, project: PROJECT });
    const other = new Artifact('elsewhere', 'model');
    await other.addDir(seed('other', { 'w.bin': 'weights' }));
    await other.log({ client, project: OTHER });
    await until('status bar connected', async () => (await h.page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 60_000);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && h) await h.shot(`failed-palette-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
    // Whatever a failed step left open must not swallow the next test's keys.
    await h?.page.keyboard.press('Escape').catch(() => undefined);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.stop();
  });

  it('the palette offers only commands that work without context, and each is exercised with none', () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const hidden = new Set((manifest.contributes.menus.commandPalette as { command: string; when?: string }[]).filter((m) => m.when === 'false').map((m) => m.command));
    const offered = (manifest.contributes.commands as { command: string }[]).map((c) => c.command).filter((c) => !hidden.has(c));
    assert.deepEqual(offered.sort(), Object.keys(PALETTE_COMMANDS).sort(), 'a command offered in the palette needs a no-argument test here (or a `when` clause in menus.commandPalette)');
  });

  it('Show Lineage asks project → artifact → version and focuses that version', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Show Lineage');
    await pickVersion(page, 'Show Lineage', PROJECT, 'mnist-raw', 'v0');
    const frame = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await frame.locator('g.node text.label', { hasText: /^dataset:mnist-raw:v0$/ }).waitFor({ timeout: 30_000 });
    await frame.locator('g.node text.label', { hasText: /^load-data:/ }).waitFor({ timeout: 10_000 });
    await page.locator('.tabs-container .tab').filter({ hasText: 'Lineage: dataset:mnist-raw:v0' }).waitFor({ timeout: 10_000 });
    await h.shot('palette-01-show-lineage');
    await page.keyboard.press('Control+W');
  });

  it('Compare Versions… asks for both versions and shows the manifest diff', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Compare Versions…');
    await pickVersion(page, 'Compare Versions', PROJECT, 'mnist-raw', 'v0');
    await answerQuickInput(page, /^Compare mnist-raw:v0 with: version of/, 'v1');
    await page.locator('.monaco-editor .view-lines').filter({ hasText: 'Compare mnist-raw:v0 → mnist-raw:v1' }).first().waitFor({ timeout: 20_000 });
    // The changed-files pick opens after the diff document: dismiss it only once it is there, so
    // it cannot appear later over the next test's palette.
    await waitForQuickInput(page, /changed text file/);
    await page.keyboard.press('Escape');
    await until('the changed-files pick to close', async () => !(await page.locator('.quick-input-widget').isVisible()), 5_000);
    await page.keyboard.press('Control+W');
  });

  it('Copy Reference asks for a version and copies its reference', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Copy Reference');
    await pickVersion(page, 'Copy Reference', PROJECT, 'mnist-raw', 'v1');
    await page.locator('.statusbar-item').filter({ hasText: `Copied ${PROJECT}/mnist-raw:v1` }).first().waitFor({ timeout: 10_000 });
  });

  it('Download to Workspace asks for a version and downloads it', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Download to Workspace');
    await pickVersion(page, 'Download', PROJECT, 'mnist-raw', 'v0');
    const file = path.join(h.workspace, 'artifacts', 'mnist-raw:v0', 'train.csv');
    await until('the downloaded file', () => existsSync(file), 30_000);
    assert.equal(readFileSync(file, 'utf8'), 'x,y\n0,0\n');
    // The download ends by revealing its folder in the Explorer: let that finish before the next command.
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'mnist-raw:v0' }).first().waitFor({ timeout: 15_000 });
  });

  it('Add Alias… and Remove Alias… ask for a version, then change it on the server', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Add Alias…');
    await pickVersion(page, 'Add Alias', PROJECT, 'mnist-raw', 'v0');
    await answerQuickInput(page, /^Add alias to mnist-raw:v0/, 'golden');
    await until('v0 has golden', async () => (await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v0')).aliases.includes('golden'), 10_000);
    await runCommand(page, 'Amphora: Remove Alias…');
    await pickVersion(page, 'Remove Alias', PROJECT, 'mnist-raw', 'v0');
    await waitForQuickInput(page, /^Remove alias from mnist-raw:v0/);
    // A click on the row ticks its box; the count beside the input confirms it before OK.
    await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: 'golden' }).first().click();
    await page.locator('.quick-input-widget .quick-input-count').filter({ hasText: '1 Selected' }).waitFor({ timeout: 10_000 });
    await page.locator('.quick-input-widget .quick-input-action .monaco-button').filter({ hasText: 'OK' }).click();
    await until('golden removed', async () => !(await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v0')).aliases.includes('golden'), 10_000);
  });

  it('Edit Description… and Edit Metadata ask for a version', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Edit Description…');
    await pickVersion(page, 'Edit Description', PROJECT, 'mnist-raw', 'v1');
    await answerQuickInput(page, /^Description of mnist-raw:v1/, 'picked from the palette');
    await until('the description saved', async () => (await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v1')).description === 'picked from the palette', 10_000);
    await runCommand(page, 'Amphora: Edit Metadata');
    await pickVersion(page, 'Edit Metadata', PROJECT, 'mnist-raw', 'v1');
    await page.locator('.tab').filter({ hasText: 'v1.metadata.json' }).first().waitFor({ timeout: 15_000 });
    await until('the metadata shown', async () => /"rows": 2/.test(((await page.locator('.monaco-editor .view-lines').last().textContent()) ?? '').replace(/\u00a0/g, ' ')), 10_000);
    await page.keyboard.press('Control+W');
  });

  it('Reveal Producer Run and Reveal Artifact in Sidebar ask for a version and select its row', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Reveal Producer Run');
    await pickVersion(page, 'Reveal Producer Run', PROJECT, 'mnist-raw', 'v0');
    const runsSelected = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Runs$/i }) }).locator('.monaco-list-row.selected');
    await until('the producer run selected', async () => /finished/.test((await runsSelected.first().textContent({ timeout: 1000 })) ?? ''), 20_000);
    await runCommand(page, 'Amphora: Reveal Artifact in Sidebar');
    await pickVersion(page, 'Reveal Artifact', PROJECT, 'mnist-raw', 'v1');
    const artifactsSelected = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }) }).locator('.monaco-list-row.selected');
    await until('v1 selected', async () => /^\s*v1/.test((await artifactsSelected.first().textContent({ timeout: 1000 })) ?? ''), 20_000);
    await h.shot('palette-02-revealed');
  });

  it('Open Producer Code asks for a version and says where its code is', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Open Producer Code');
    await pickVersion(page, 'Open Producer Code', PROJECT, 'mnist-raw', 'v0');
    // v0's producer ran in this test process, whose code is not the workspace: the answer says so.
    await page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Open Producer Code' }).first().waitFor({ timeout: 20_000 });
    await h.shot('palette-03-producer-code');
    await page.keyboard.press('Escape');
  });

  it('Show Experiments opens the only project with runs as a table', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Show Experiments');
    await page.locator('.tabs-container .tab').filter({ hasText: `Experiments: ${PROJECT}` }).waitFor({ timeout: 30_000 });
    // The table itself, with the project's one run (job type load-data), not only the tab.
    const frame = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await frame.locator('table.experiments tbody tr', { hasText: 'load-data' }).first().waitFor({ timeout: 30_000 });
    await h.shot('palette-04-experiments');
    await page.keyboard.press('Control+W');
  });

  it('Delete Version… asks for a version, confirms, deletes', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Delete Version…');
    await pickVersion(page, 'Delete Version', OTHER, 'elsewhere', 'v0');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.filter({ hasText: `Delete ${OTHER}/elsewhere:v0?` }).waitFor({ timeout: 10_000 });
    await dialog.locator('.monaco-button').filter({ hasText: /^Delete$/ }).click();
    await dialog.filter({ hasText: 'has aliases: latest' }).waitFor({ timeout: 10_000 });
    await dialog.locator('.monaco-button').filter({ hasText: 'Delete With Aliases' }).click();
    await until('deleted on the server', async () => {
      try {
        await client.http.version(client.entity, OTHER, 'elsewhere', 'v0');
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'not_found';
      }
    }, 10_000);
  });

  it('Use Artifact… offers the artifacts of every project', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Use Artifact…');
    await answerQuickInput(page, /^Use Artifact/, `${PROJECT}/mnist-raw:latest`);
    const file = path.join(h.workspace, 'artifacts', 'mnist-raw:v1', 'train.csv');
    await until('the downloaded latest version', () => existsSync(file), 30_000);
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'mnist-raw:v1' }).first().waitFor({ timeout: 15_000 });
  });

  it('Log as Artifact… with nothing open asks which files to log', async () => {
    const { page } = h;
    // No active file to fall back on.
    await runCommand(page, 'View: Close All Editors');
    await until('no editor open', async () => (await page.locator('.tabs-container .tab').count()) === 0, 10_000);
    await runCommand(page, 'Amphora: Log as Artifact…');
    await waitForQuickInput(page, /Log as Artifact: files or folders/);
    await h.shot('palette-03-log-pick-files');
    const input = page.locator('.quick-input-widget input').first();
    await input.fill(path.join(h.workspace, 'data', 'train.csv'));
    await until('the file dialog to accept train.csv', async () => {
      if (/Log as Artifact: project/.test((await page.locator('.quick-input-widget .quick-input-title').textContent({ timeout: 500 })) ?? '')) return true;
      await input.press('Enter');
      return false;
    }, 15_000, 500);
    await answerQuickInput(page, /Log as Artifact: project/, PROJECT);
    await answerQuickInput(page, /Log as Artifact: name/, 'train-file');
    await answerQuickInput(page, /Log as Artifact: type/);
    await answerQuickInput(page, /aliases/);
    await answerQuickInput(page, /description/);
    await until('train-file:v0 on the server', async () => (await client.http.version(client.entity, PROJECT, 'train-file', 'v0')).fileCount === 1, 30_000);
  });

  it('Open Terminal with CLI gives a terminal where the bundled amphora command talks to the same server', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Open Terminal with CLI');
    await page.locator('.tabs-container, .terminal-tabs-entry, .single-terminal-tab').filter({ hasText: 'Amphora CLI' }).first().waitFor({ timeout: 20_000 });
    const out = path.join(h.workspace, 'projects.json');
    await until('amphora project ls run in the terminal', async () => {
      if (existsSync(out) && readFileSync(out, 'utf8').includes(PROJECT)) return true;
      await page.locator('.terminal-wrapper.active .xterm, .terminal .xterm').first().click();
      await page.keyboard.type(`amphora project ls --json > "${out}"\n`);
      return until('the output file', () => existsSync(out) && readFileSync(out, 'utf8').includes(PROJECT), 8_000, 200).catch(() => false);
    }, 60_000, 500);
    await h.shot('palette-04-cli-terminal');
    assert.ok(JSON.parse(readFileSync(out, 'utf8')).items.some((p: { name: string }) => p.name === PROJECT));
  });

  it('Refresh, Reconnect, Show Server Log and Sign Out need no context', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Show Server Log');
    await page.locator('.panel .monaco-editor .view-lines').filter({ hasText: 'connected to http' }).first().waitFor({ timeout: 15_000 });
    await runCommand(page, 'Amphora: Refresh');
    await showSideBar(page, 'Amphora');
    await treeRow(page, 'Artifacts', PROJECT).waitFor({ timeout: 15_000 });
    await runCommand(page, 'Amphora: Reconnect');
    await until('connected again', async () => (await page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 30_000);
    // Not signed in to a team server: Sign Out keeps the local connection.
    await runCommand(page, 'Amphora: Sign Out');
    await until('still connected', async () => (await page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 30_000);
    await noErrorToast(page);
  });

  it('in a Jupyter notebook, Python cells get lenses, hovers, completion and diagnostics, with the project from another cell', async () => {
    const { page } = h;
    await showSideBar(page, 'Explorer');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^analysis\.ipynb$/ }).first().dblclick();
    await page.locator('.notebook-editor:visible').first().waitFor({ timeout: 30_000 });
    // Two projects and no setting: only the first cell's init(project=…) says which one.
    const lens = page.locator('.notebook-editor:visible .codelens-decoration').filter({ hasText: 'mnist-raw:latest →' }).first();
    await until('the lens in the second cell', async () => /→ v1 · 1 file/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 30_000);
    const typo = page.locator('.notebook-editor:visible .codelens-decoration').filter({ hasText: 'mnist-rwa:latest' }).first();
    await until('the unknown reference named', async () => /did you mean "mnist-raw"/.test((await typo.textContent({ timeout: 1000 })) ?? ''), 15_000);
    await h.shot('palette-05-notebook-lens');
    // Diagnostics: the typo is a warning in the Problems panel.
    await page.keyboard.press('Control+Shift+M');
    await until('the warning in Problems', async () => /unknown artifact "mnist-rwa"/.test((await page.locator('.markers-panel').first().textContent({ timeout: 1000 })) ?? ''), 20_000);
    await h.shot('palette-06-notebook-problems');
    // Hover on the reference.
    // A span inside the string (outer spans are whole lines; the alias's squiggle splits the token).
    await page.locator('.notebook-editor:visible .view-lines span').filter({ hasText: /^"?mnist-raw:/ }).last().hover();
    const hover = await hoverText(page, /rows/);
    assert.match(hover, /v1/);
    await h.shot('palette-07-notebook-hover');
    // Completion inside a new reference string in the second cell.
    await page.keyboard.press('Escape'); // the hover
    await page.locator('.notebook-editor:visible .view-lines span').filter({ hasText: /mnist-rwa/ }).last().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('more = run.use_artifact("mnist-r');
    await page.keyboard.press('Control+Space');
    const suggestion = page.locator('.suggest-widget .monaco-list-row').filter({ hasText: 'mnist-raw' }).first();
    await suggestion.waitFor({ timeout: 15_000 });
    await h.shot('palette-08-notebook-completion');
    await page.keyboard.press('Escape');
  });
});
