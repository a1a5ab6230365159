/**
 * The SDK's errors advise shell users ("Start one with `amphora serve` …"); editor users have no
 * `amphora` command until they open the CLI terminal, so the advice is rewritten for them.
 * No `vscode` here.
 */
const START_A_SERVER = /Start one with `amphora serve`, or set AMPHORA_BASE_URL[^.]*\./g;

export const EDITOR_START_ADVICE =
  'Run "Amphora: Reconnect" to start the bundled server, or "Amphora: Open Terminal with CLI" to run `amphora serve` yourself (or set amphora.serverUrl and run "Amphora: Sign In" for a team server).';

export function forEditorUsers(message: string): string {
  return message.replace(START_A_SERVER, EDITOR_START_ADVICE);
}
