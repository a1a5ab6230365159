/**
 * The editor suite drives a real VS Code in a real browser, where a keypress can still land in the
 * moment a widget re-renders. Each test gets one retry (scripts/test.mjs passes `--retries 1`), and
 * a test that passed only on its retry is named here, so a flaky step is seen and fixed rather
 * than hidden. scripts/test.mjs counts these lines in the suite's summary.
 */
import type { Context } from 'mocha';

export const mochaHooks = {
  afterEach(this: Context) {
    const t = this.currentTest;
    // currentRetry() is public at run time; @types/mocha marks it protected.
    const retry = (t as unknown as { currentRetry(): number } | undefined)?.currentRetry() ?? 0;
    if (t?.state === 'passed' && retry > 0) console.log(`  FLAKY: "${t.fullTitle()}" passed on retry ${retry}`);
  },
};
