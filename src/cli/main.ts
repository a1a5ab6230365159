/**
 * The `amphora` command: a thin layer over the SDK (src/client) and the server (src/server).
 * Results go to stdout (text, or JSON with --json); messages, errors and progress go to stderr.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { Client } from '../client/client.js';
import type { ArtifactCollection, ArtifactVersion, LineageGraph } from '../core/api.js';
import { DEFAULT_PORT } from '../core/defaults.js';
import { AmphoraError } from '../core/errors.js';
import { parseReference } from '../core/reference.js';
import { EXIT, EXIT_CODES_HELP, makeOut, mib, reportError, table, type Out } from './output.js';

const program = new Command();
program
  .name('amphora')
  .description('Versioned datasets and models with their lineage. Talks to the server in AMPHORA_BASE_URL, or the local one found through its discovery file.')
  .option('--json', 'print machine-readable JSON on stdout')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP)
  .exitOverride();

/** The SDK and everything heavy, loaded by the commands that need it (see sdk.ts). */
const sdk = () => import('./sdk.js');

let client: Client | undefined;
async function connect(): Promise<Client> {
  client ??= await (await sdk()).Client.connect();
  return client;
}

function outOf(cmd: Command): Out {
  return makeOut(!!cmd.optsWithGlobals().json);
}

/** Wraps an action: prints errors the same way everywhere and sets the exit code. */
function action<A extends unknown[]>(fn: (out: Out, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const out = outOf(cmd);
    try {
      await fn(out, ...(args.slice(0, -1) as A));
    } catch (e) {
      process.exitCode = reportError(e, out.json);
    }
  };
}

function versionLine(v: ArtifactVersion): string {
  const aliases = v.aliases.length ? ` [${v.aliases.join(', ')}]` : '';
  return `${v.project}/${v.name}:${v.version}${aliases}  ${v.type}  ${v.fileCount} files  ${mib(v.size)}  ${v.digest.slice(0, 12)}`;
}

/** Splits `[entity/][project/]name` (no selector allowed). */
function parseName(text: string): { entity?: string; project?: string; name: string } {
  const r = parseReference(text);
  if (r.explicitSelector) throw new AmphoraError('invalid_name', `--name "${text}" must not carry ":${r.selector}"; aliases go in --alias.`);
  return r;
}

function qualify(c: Client, ref: string): { entity: string; project: string; name: string; selector: string } {
  const r = parseReference(ref);
  return { entity: r.entity ?? c.entity, project: r.project ?? c.defaultProject, name: r.name, selector: r.selector };
}

// ------------------------------------------------------------------ serve
program
  .command('serve')
  .description('Run the tracking server until Ctrl-C: embedded (PGlite + local blob folder), or a team server replica with --db postgres://….')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', `port (0 = any free port)`, String(DEFAULT_PORT))
  .option('--data-dir <dir>', 'embedded: where the database, blobs and discovery file live (default: $AMPHORA_DATA_DIR or XDG data dir)')
  .option('--db <uri>', 'postgres://USER:PW@HOST:PORT/DB for a team server (default: $AMPHORA_DB_URL, else embedded PGlite)')
  .option('--blobs <uri>', 's3://BUCKET[/PREFIX] (endpoint, region, keys from the AWS environment) or file:DIR shared by every replica (default: $AMPHORA_BLOBS, else <data dir>/blobs)')
  .action(
    action(async (out, opts: { host: string; port: string; dataDir?: string; db?: string; blobs?: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AmphoraError('invalid_request', `--port ${opts.port} is not a port number (0–65535).`);
      const { startServer } = await import('../server/index.js');
      const dataDir = path.resolve(opts.dataDir ?? (await sdk()).defaultDataDir());
      const db = opts.db ?? (process.env.AMPHORA_DB_URL || undefined);
      const blobs = opts.blobs ?? (process.env.AMPHORA_BLOBS || undefined);
      const server = await startServer({ dataDir, db, blobs, host: opts.host, port, quiet: true }).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException)?.code;
        if (code === 'EADDRINUSE') throw new AmphoraError('conflict', `Port ${port} on ${opts.host} is already in use (another Amphora server?). Pick another with --port N, or --port 0 for any free port.`);
        if (code === 'EACCES') throw new AmphoraError('invalid_request', `Not allowed to listen on ${opts.host}:${port}; use a port above 1024.`);
        throw e;
      });
      out.result({ event: 'listening', url: server.url, mode: server.mode, dataDir: server.dataDir, pid: process.pid }, () =>
        (server.dataDir
          ? [
              `Amphora server listening on ${server.url}`,
              `Data: ${server.dataDir}`,
              `Clients on this machine connect automatically (discovery file ${path.join(server.dataDir, 'server.json')}).`,
              `Elsewhere: AMPHORA_BASE_URL=${server.url} AMPHORA_API_KEY=<key from that file>`,
            ]
          : [
              `Amphora team server replica listening on ${server.url}`,
              `Clients: AMPHORA_BASE_URL=<this replica or the load balancer> AMPHORA_API_KEY=<a key of this server>`,
            ]
        )
          .concat('Press Ctrl-C to stop.')
          .join('\n'),
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out.info('Stopping…');
          server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    }),
  );

// ------------------------------------------------------------------ artifact
const artifact = program.command('artifact').description('Log, fetch, list and manage artifact versions.').addHelpText('after', EXIT_CODES_HELP);

artifact
  .command('put')
  .description('Log a file, a folder or a reference URI (http(s)://, file://, s3://, gs://) as a new version (or the identical existing one). References are not copied: s3:// and gs:// are read with your own AWS / Google credentials.')
  .argument('<path>', 'file, folder or URI to log')
  .requiredOption('--name <[project/]name>', 'artifact name, optionally with its project')
  .requiredOption('--type <type>', 'artifact type, e.g. dataset or model')
  .option('--alias <alias>', 'alias to point at the version (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
  .option('--description <text>', 'version description')
  .option('--metadata <json>', 'version metadata as a JSON object')
  .option('--no-checksum', 'references only: record the URI itself instead of checking the object (no ETag/version is read)')
  .option('--max-objects <n>', 'references only: at most this many objects under an s3:// or gs:// prefix (default 10000)')
  .action(
    action(async (out, target: string, opts: { name: string; type: string; alias?: string[]; description?: string; metadata?: string; checksum: boolean; maxObjects?: string }) => {
      const n = parseName(opts.name);
      let metadata: Record<string, unknown> | undefined;
      if (opts.metadata !== undefined) {
        try {
          metadata = JSON.parse(opts.metadata) as Record<string, unknown>;
        } catch {
          throw new AmphoraError('invalid_request', `--metadata is not valid JSON: ${opts.metadata.slice(0, 80)}. Pass an object such as '{"source":"mnist"}'.`);
        }
        if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw new AmphoraError('invalid_request', '--metadata must be a JSON object such as \'{"source":"mnist"}\'.');
      }
      const { Artifact, referenceScheme } = await sdk();
      const art = new Artifact(n.name, opts.type, { description: opts.description, metadata });
      const isUri = referenceScheme(target) !== undefined;
      if (!isUri && (!opts.checksum || opts.maxObjects !== undefined)) {
        throw new AmphoraError('invalid_request', `--no-checksum and --max-objects apply to reference URIs (s3://, gs://, http(s)://, file://); ${target} is a local path.`);
      }
      if (isUri) {
        let maxObjects: number | undefined;
        if (opts.maxObjects !== undefined) {
          maxObjects = Number(opts.maxObjects);
          if (!/^\d+$/.test(opts.maxObjects) || maxObjects < 1) throw new AmphoraError('invalid_request', `--max-objects must be a whole number ≥ 1, got "${opts.maxObjects}".`);
        }
        await art.addReference(target, { checksum: opts.checksum, maxObjects });
      } else {
        const st = await stat(target).catch(() => undefined);
        if (!st) throw new AmphoraError('invalid_path', `${path.resolve(target)} does not exist; pass a file, a folder or a URI.`);
        if (st.isDirectory()) await art.addDir(target);
        else await art.addFile(target);
      }
      const c = await connect();
      const bar = out.progress('put');
      try {
        await art.log({ client: c, project: n.project, entity: n.entity, aliases: opts.alias, onProgress: bar });
      } finally {
        bar.stop();
      }
      out.result(
        { version: art.version, name: art.name, type: art.type, project: art.project, entity: art.entity, digest: art.digest, size: art.size, fileCount: art.fileCount, aliases: art.aliases, ref: art.qualifiedName() },
        () => `Logged ${art.project}/${art.name}:${art.version} [${art.aliases.join(', ')}]  ${art.fileCount} files  ${mib(art.size ?? 0)}  digest ${art.digest}`,
      );
    }),
  );

artifact
  .command('get')
  .description('Download a version (fetching only what the local cache lacks).')
  .argument('<ref>', '[entity/][project/]name[:alias|:vN] (default alias: latest)')
  .option('--root <dir>', 'where to put the files (default ./artifacts/<name>:<version>)')
  .action(
    action(async (out, ref: string, opts: { root?: string }) => {
      const api = new (await sdk()).Api({ client: await connect() });
      const art = await api.artifact(ref);
      const bar = out.progress('get');
      let r;
      try {
        r = await art.download({ root: opts.root, onProgress: bar });
      } finally {
        bar.stop();
      }
      out.result({ ref: art.qualifiedName(), version: art.version, digest: art.digest, ...r }, () => `${art.qualifiedName()} → ${r.root}  (${r.fetched} fetched, ${r.fromCache} from cache, ${r.unchanged} unchanged)`);
    }),
  );

artifact
  .command('ls')
  .description('List the artifacts of a project.')
  .argument('[project]', 'project (default: AMPHORA_PROJECT or the server default)')
  .option('--type <type>', 'only this artifact type')
  .action(
    action(async (out, project: string | undefined, opts: { type?: string }) => {
      const c = await connect();
      const items: ArtifactCollection[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.http.collections(c.entity, project ?? c.defaultProject, { limit: 1000, cursor, type: opts.type });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      out.result({ items }, () =>
        items.length
          ? table([
              ['NAME', 'TYPE', 'VERSIONS', 'LATEST', 'ALIASES'],
              ...items.map((i) => [i.name, i.type, String(i.versionCount), i.latest?.version ?? '-', i.aliases.map((a) => `${a.alias}→${a.version}`).join(', ')]),
            ])
          : `No artifacts in project "${project ?? c.defaultProject}". Log one with: amphora artifact put PATH --name NAME --type TYPE`,
      );
    }),
  );

artifact
  .command('versions')
  .description('List the versions of an artifact.')
  .argument('<ref>', '[entity/][project/]name')
  .action(
    action(async (out, ref: string) => {
      const c = await connect();
      const q = qualify(c, ref);
      const items: ArtifactVersion[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.http.versions(q.entity, q.project, q.name, { limit: 1000, cursor });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      out.result({ items }, () =>
        table([
          ['VERSION', 'ALIASES', 'FILES', 'SIZE', 'CREATED', 'DIGEST'],
          ...items.map((v) => [v.version, v.aliases.join(', '), String(v.fileCount), mib(v.size), v.createdAt, v.digest.slice(0, 12)]),
        ]),
      );
    }),
  );

const alias = artifact.command('alias').description('Add or remove a custom alias on a version.');
for (const op of ['add', 'rm'] as const) {
  alias
    .command(op)
    .description(op === 'add' ? 'Point ALIAS at the version REF (moving it from another version).' : 'Remove ALIAS from the version REF.')
    .argument('<ref>', '[entity/][project/]name[:alias|:vN]')
    .argument('<alias>', 'custom alias, e.g. best or production')
    .action(
      action(async (out, ref: string, name: string) => {
        const c = await connect();
        const q = qualify(c, ref);
        const v = await c.http.updateVersion(q.entity, q.project, q.name, q.selector, { aliases: op === 'add' ? { add: [name] } : { remove: [name] } });
        out.result(v, () => versionLine(v));
      }),
    );
}

artifact
  .command('rm')
  .description('Delete a version (soft delete; blobs go at the next gc). Refused while it has aliases unless --delete-aliases.')
  .argument('<ref>', '[entity/][project/]name:vN (or :alias)')
  .option('--delete-aliases', 'also remove the aliases pointing at it')
  .action(
    action(async (out, ref: string, opts: { deleteAliases?: boolean }) => {
      const c = await connect();
      const q = qualify(c, ref);
      const res = await c.http.deleteVersion(q.entity, q.project, q.name, q.selector, !!opts.deleteAliases).catch((e: unknown) => {
        if (e instanceof AmphoraError && e.code === 'aliased_version') {
          throw new AmphoraError(e.code, `${e.message} From the command line: amphora artifact rm ${ref} --delete-aliases`);
        }
        throw e;
      });
      out.result(res.version, () => `Deleted ${res.version.project}/${res.version.name}:${res.version.version}`);
    }),
  );

// ------------------------------------------------------------------ lineage
program
  .command('lineage')
  .description('Show the runs and versions around a version (who logged it, who used it).')
  .argument('<ref>', '[entity/][project/]name[:alias|:vN]')
  .option('--depth <n>', 'how many hops to follow', '2')
  .option('--type-level', 'collapse to artifact types and job types')
  .addOption(new Option('--direction <dir>', 'which way to follow').choices(['both', 'upstream', 'downstream']).default('both'))
  .action(
    action(async (out, ref: string, opts: { depth: string; typeLevel?: boolean; direction: 'both' | 'upstream' | 'downstream' }) => {
      const depth = Number(opts.depth);
      if (!Number.isInteger(depth) || depth < 0) throw new AmphoraError('invalid_request', `--depth ${opts.depth} must be a whole number ≥ 0.`);
      const api = new (await sdk()).Api({ client: await connect() });
      const g = await api.lineage(ref, { depth, level: opts.typeLevel ? 'type' : 'instance', direction: opts.direction });
      out.result(g, () => renderGraph(g));
    }),
  );

function renderGraph(g: LineageGraph): string {
  const label = new Map(g.nodes.map((n) => [n.id, `${n.kind === 'run' || n.kind === 'jobType' ? '(run) ' : ''}${n.label}${n.count !== undefined ? ` ×${n.count}` : ''}`]));
  const lines = g.edges.map((e) => `${label.get(e.source) ?? e.source}  →  ${label.get(e.target) ?? e.target}`);
  if (!lines.length) lines.push(...g.nodes.map((n) => label.get(n.id)!), '(no lineage edges yet)');
  if (g.truncated) lines.push('… more beyond this depth (use --depth)');
  return lines.join('\n');
}

// ------------------------------------------------------------------ cache, gc
program
  .command('cache')
  .description('Manage the local download cache ($AMPHORA_CACHE_DIR or XDG cache dir).')
  .command('cleanup')
  .description('Evict least-recently-used cached blobs until the cache holds at most SIZE (e.g. 10GB, 500MB, 0).')
  .argument('<size>', 'target size')
  .action(
    action(async (out, size: string) => {
      const { BlobCache, defaultCacheDir, parseSize } = await sdk();
      const cacheDir = defaultCacheDir();
      const r = await new BlobCache(cacheDir).cleanup(parseSize(size));
      out.result({ cacheDir, ...r }, () => `Removed ${r.removed} blobs (${mib(r.freedBytes)}); ${mib(r.keptBytes)} kept in ${cacheDir}`);
    }),
  );

program
  .command('gc')
  .description('Delete blobs no committed or pending version references (server side), after a grace period.')
  .option('--grace <seconds>', 'keep blobs younger than this (default: server default)')
  .option('--dry-run', 'only report what would be deleted')
  .action(
    action(async (out, opts: { grace?: string; dryRun?: boolean }) => {
      const grace = opts.grace === undefined ? undefined : Number(opts.grace);
      if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw new AmphoraError('invalid_request', `--grace ${opts.grace} must be a whole number of seconds ≥ 0.`);
      const c = await connect();
      const r = await c.http.gc({ graceSeconds: grace, dryRun: !!opts.dryRun });
      out.result(r, () => `${opts.dryRun ? 'Would delete' : 'Deleted'} ${r.deletedBlobs} blobs (${mib(r.freedBytes)}); kept ${r.keptYoung} younger than the grace period.`);
    }),
  );

// Every command gets the exit-code table in its --help and usage errors exit with 2.
for (const c of [program, ...allCommands(program)]) {
  c.exitOverride();
  if (c !== program && c !== artifact) c.addHelpText('after', EXIT_CODES_HELP);
}
function allCommands(c: Command): Command[] {
  return c.commands.flatMap((s) => [s, ...allCommands(s)]);
}

async function main() {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    } else {
      process.exitCode = reportError(e, process.argv.includes('--json'));
    }
  } finally {
    await client?.close().catch(() => {});
  }
}

await main();
