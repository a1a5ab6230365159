/**
 * What the last `init` of this process chose, so a later `new Api()` looks in the run's project as
 * W&B's `wandb.Api()` does (otherwise AMPHORA_PROJECT, then the server's default project).
 */
let last: { entity: string; project: string } | undefined;

export function rememberInit(entity: string, project: string): void {
  last = { entity, project };
}

export function lastInit(): { entity: string; project: string } | undefined {
  return last;
}

/** Forgets the last init (tests). */
export function forgetInit(): void {
  last = undefined;
}
