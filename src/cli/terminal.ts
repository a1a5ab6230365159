/**
 * A progress bar hides the cursor and turns line wrap off. Whatever ends the command — success,
 * an error, Ctrl-C, SIGTERM — the terminal must get both back, or the user's shell is left
 * without a cursor and with lines cut at the edge.
 */

/** Cursor shown, line wrap on (DECTCEM and DECAWM). */
export const RESTORE_TERMINAL = '\x1b[?25h\x1b[?7h';

const EXIT_BY_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Until the returned function is called: on Ctrl-C/SIGTERM, restore the terminal and exit with
 * the shell's code for that signal; on any other exit, restore it on the way out.
 */
export function guardTerminal(stream: NodeJS.WriteStream, beforeExit: () => void = () => {}): () => void {
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    try {
      beforeExit();
    } catch {
      /* the bar's own cleanup is best effort; the escape codes below are what matter */
    }
    stream.write(RESTORE_TERMINAL);
  };
  const onSignal = (signal: keyof typeof EXIT_BY_SIGNAL) => {
    restore();
    stream.write('\n');
    process.exit(EXIT_BY_SIGNAL[signal]);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('exit', restore);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('exit', restore);
    restore();
  };
}
