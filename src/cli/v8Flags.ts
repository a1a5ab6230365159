/**
 * V8 flags the `amphora` command sets for itself, before it compiles its bundles.
 *
 * --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it at once
 * with its baseline compiler (Liftoff) and queues optimising (TurboFan) jobs on background
 * threads, and Node waits for those jobs when the process exits. Every command that made a
 * request sat idle for 100–130 ms before exiting (a one-file `artifact get`: 0.37 → 0.25 s
 * without them; bench/README.md, "Start-up"). llhttp's share of a transfer is small (it
 * skips a body in large spans), so the optimised code never paid for its compile in a command.
 *
 * Not for `serve`: the embedded server runs PGlite, PostgreSQL compiled to WebAssembly, whose
 * queries need TurboFan's code. Any argument spelled `serve` keeps the defaults: at worst a command
 * whose argument happens to be "serve" exits a little later.
 */
import v8 from 'node:v8';

export function cliV8Flags(args: readonly string[]): string[] {
  return args.includes('serve') ? [] : ['--liftoff-only'];
}

/** Where the flags set are recorded: per process, as each CLI bundle has its own copy of this module. */
const SET_FLAGS = Symbol.for('amphora.cli.v8Flags');

/** Sets `flags` for this process; they take effect for code compiled from now on. */
export function setV8Flags(flags: readonly string[]): void {
  for (const flag of flags) v8.setFlagsFromString(flag);
  (globalThis as Record<symbol, unknown>)[SET_FLAGS] = [...v8FlagsSet(), ...flags];
}

/** The flags setV8Flags set in this process. V8 refuses code cached under other flags, so they are part of the code cache's key. */
export function v8FlagsSet(): readonly string[] {
  return ((globalThis as Record<symbol, unknown>)[SET_FLAGS] as string[] | undefined) ?? [];
}
