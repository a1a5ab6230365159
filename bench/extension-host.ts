/**
 * What the extension costs the editor: activation time as VS Code measures it ("Developer: Show
 * Running Extensions") and the extension host's resident memory with and without Amphora, in
 * code-server driven by Chromium (the e2e harness: packaged .vsix, a real server on a temp dir).
 *   npx tsx bench/extension-host.ts
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startHarness, until, type Harness } from '../test/e2e/harness.js';

const files = {
  'train.py': 'import amphora as wandb\nrun = wandb.init(project="demo")\nraw = run.use_artifact("data:latest")\n',
};

/** Extension host processes (code-server names them with --type=extensionHost) and their RSS in MiB. */
function extensionHostRss(): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  const pids = out
    .split('\n')
    .filter((l) => /--type=extensionHost/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
  return pids.map((pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
}

async function activationMs(h: Harness): Promise<string> {
  await h.page.keyboard.press('F1');
  await h.page.keyboard.type('Developer: Show Running Extensions');
  await h.page.keyboard.press('Enter');
  const row = h.page.locator('.runtime-extensions-editor .extension').filter({ hasText: 'Amphora' }).first();
  await row.waitFor({ timeout: 60_000 });
  return (await until('an activation time in the Amphora row', async () => /(\d+)\s*ms/.exec(await row.innerText())?.[1], 30_000)) + ' ms';
}

async function measure(withAmphora: boolean): Promise<{ rss: number[]; activation?: string }> {
  const h = await startHarness({ files, settings: (url) => ({ 'amphora.serverUrl': url }), withoutAmphora: !withAmphora });
  try {
    await h.page.locator('.monaco-workbench').waitFor();
    // Open the Python file (activates Amphora via onLanguage:python) and let the host settle.
    await h.page.keyboard.press('Control+P');
    await h.page.keyboard.type('train.py');
    await h.page.keyboard.press('Enter');
    await new Promise((r) => setTimeout(r, 8_000));
    const activation = withAmphora ? await activationMs(h) : undefined;
    await new Promise((r) => setTimeout(r, 2_000));
    return { rss: extensionHostRss(), activation };
  } finally {
    await h.stop();
  }
}

const rounds = Number(process.env.ROUNDS ?? 2);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
for (let i = 0; i < rounds; i++) {
  const without = await measure(false);
  const withIt = await measure(true);
  console.log(`round ${i + 1} (load ${load()}): extension host RSS without Amphora ${without.rss.map((x) => x.toFixed(0)).join('+')} MiB, with ${withIt.rss.map((x) => x.toFixed(0)).join('+')} MiB; Amphora activation ${withIt.activation}`);
}
