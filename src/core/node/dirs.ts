/**
 * The data and cache dirs (rules in config.ts), apart from config.ts so that code loaded before
 * any command runs (the CLI's code cache) can find them without loading zod.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

type Env = Record<string, string | undefined>;

function xdg(env: Env, variable: string, fallback: string[]): string {
  const v = env[variable];
  return v && v.startsWith('/') ? v : join(env.HOME || homedir(), ...fallback);
}

export function defaultDataDir(env: Env = process.env): string {
  return env.AMPHORA_DATA_DIR || join(xdg(env, 'XDG_DATA_HOME', ['.local', 'share']), 'amphora');
}

export function defaultCacheDir(env: Env = process.env): string {
  return env.AMPHORA_CACHE_DIR || join(xdg(env, 'XDG_CACHE_HOME', ['.cache']), 'amphora');
}
