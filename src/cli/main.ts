/**
 * The `amphora` command: a thin layer over the SDK (src/client) and the server (src/server).
 * Results go to stdout (text, or JSON with --json); messages, errors and progress go to stderr.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Client } from '../client/client.js';
import { paginate } from '../core/paginate.js';
import type { ApiKeyInfo, ArtifactCollection, ArtifactVersion, AuditEntry, LineageGraph, RegistryMember, RegistryRole, Role } from '../core/api.js';
import { DEFAULT_PORT } from '../core/defaults.js';
import { ROLE_NAMES as ROLES } from '../core/roles.js';
import { AmphoraError } from '../core/errors.js';
import { parseReference } from '../core/reference.js';
import { formatBytes } from '../core/bytes.js';
import { parseLinkTarget, REGISTRY_PREFIX } from '../core/registry.js';
import { validateAlias } from '../core/names.js';
import { EXIT, EXIT_CODES_HELP, makeOut, reportError, table, type Out } from './output.js';
import type { SyncResult } from './sync.js';
import { VERSION } from './version.js';
import { runBundle } from './codeCache.js';

const JSON_HELP = 'print machine-readable JSON on stdout (errors too)';
const program = new Command();
program
  .name('amphora')
  .description('Versioned datasets and models with their lineage. Talks to the server in AMPHORA_BASE_URL, or the local one found through its discovery file.')
  .option('--json', JSON_HELP)
  .version(VERSION, '-V, --version', 'print the amphora version')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP)
  .exitOverride();

/**
 * The SDK and everything heavy, loaded by the commands that need it (see sdk.ts): in dist/ the
 * bundle cli-sdk.cjs next to this one, through the code cache (codeCache.ts); from source, the module.
 */
let sdkLoaded: Promise<typeof import('./sdk.js')> | undefined;
function sdk(): Promise<typeof import('./sdk.js')> {
  const bundle = typeof __dirname === 'string' ? path.join(__dirname, 'cli-sdk.cjs') : undefined;
  sdkLoaded ??= bundle && existsSync(bundle) ? Promise.resolve(runBundle(bundle).exports as typeof import('./sdk.js')) : import('./sdk.js');
  return sdkLoaded;
}

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

/** Option values that must be whole numbers: a bad one is a usage error (exit 2), like an unknown option. */
function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`}, got "${value}".`);
    }
    return n;
  };
}

function versionLine(v: ArtifactVersion): string {
  const aliases = v.aliases.length ? ` [${v.aliases.join(', ')}]` : '';
  return `${v.project}/${v.name}:${v.version}${aliases}  ${v.type}  ${v.fileCount} files  ${formatBytes(v.size)}  ${v.digest.slice(0, 12)}`;
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
  .option('--port <port>', `port (0 = any free port)`, wholeNumber(0, 65535), DEFAULT_PORT)
  .option('--data-dir <dir>', 'embedded: where the database, blobs and discovery file live (default: $AMPHORA_DATA_DIR or XDG data dir)')
  .option('--db <uri>', 'postgres://USER:PW@HOST:PORT/DB for a team server (default: $AMPHORA_DB_URL, else embedded PGlite)')
  .option('--blobs <uri>', 's3://BUCKET[/PREFIX] (endpoint, region, keys from the AWS environment) or file:DIR shared by every replica (default: $AMPHORA_BLOBS, else <data dir>/blobs)')
  .option('--team', 'team mode on the data dir (PGlite): users, teams, API keys and roles (AMPHORA_BOOTSTRAP_KEY sets the site admin key on a new database); --db postgres:// is always team mode')
  .action(
    action(async (out, opts: { host: string; port: number; dataDir?: string; db?: string; blobs?: string; team?: boolean }) => {
      const port = opts.port;
      const { startServer, adminKeyNotice } = await import('../server/index.js');
      const dataDir = path.resolve(opts.dataDir ?? (await sdk()).defaultDataDir());
      const db = opts.db ?? (process.env.AMPHORA_DB_URL || undefined);
      const blobs = opts.blobs ?? (process.env.AMPHORA_BLOBS || undefined);
      const server = await startServer({ dataDir, db, blobs, host: opts.host, port, quiet: true, mode: opts.team ? 'team' : undefined }).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException)?.code;
        if (code === 'EADDRINUSE') throw new AmphoraError('conflict', `Port ${port} on ${opts.host} is already in use (another Amphora server?). Pick another with --port N, or --port 0 for any free port.`);
        if (code === 'EACCES') throw new AmphoraError('invalid_request', `Not allowed to listen on ${opts.host}:${port}; use a port above 1024.`);
        throw e;
      });
      if (server.generatedAdminKey) process.stderr.write(adminKeyNotice(server.generatedAdminKey) + '\n');
      out.result({ event: 'listening', url: server.url, mode: server.mode, dataDir: server.dataDir, pid: process.pid }, () =>
        (server.mode === 'embedded' && server.dataDir
          ? [
              `Amphora server listening on ${server.url}`,
              `Data: ${server.dataDir}`,
              `Clients on this machine connect automatically (discovery file ${path.join(server.dataDir, 'server.json')}).`,
              `Elsewhere: AMPHORA_BASE_URL=${server.url} AMPHORA_API_KEY=<key from that file>`,
            ]
          : [
              `Amphora team server${server.dataDir ? '' : ' replica'} listening on ${server.url}`,
              ...(server.dataDir ? [`Data: ${server.dataDir}`] : []),
              `Clients: AMPHORA_BASE_URL=<this server or the load balancer> AMPHORA_API_KEY=<a user's key> (amphora user create NAME makes one)`,
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
  .requiredOption('-n, --name <[project/]name>', 'artifact name, optionally with its project')
  .requiredOption('-t, --type <type>', 'artifact type, e.g. dataset or model')
  .option('-a, --alias <alias>', 'alias to point at the version (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
  .option('-d, --description <text>', 'version description')
  .option('--metadata <json>', 'version metadata as a JSON object')
  .option('--no-checksum', 'references only: record the URI itself instead of checking the object (no ETag/version is read)')
  .option('--max-objects <n>', 'references only: at most this many objects under an s3:// or gs:// prefix (default 10000)')
  .option('--policy <policy>', 'mutable (default: the local cache takes a copy) or immutable (you will not change the files: the cache hard-links them, no second copy)')
  .option('--skip-cache', 'keep the files out of the local download cache')
  .addHelpText('after', '\nExample:\n  amphora artifact put data/ -n demo/mnist-raw -t dataset -a best -d "raw MNIST"')
  .action(
    action(async (out, target: string, opts: { name: string; type: string; alias?: string[]; description?: string; metadata?: string; checksum: boolean; maxObjects?: string; policy?: string; skipCache?: boolean }) => {
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
      if (isUri && (opts.policy !== undefined || opts.skipCache)) {
        throw new AmphoraError('invalid_request', `--policy and --skip-cache apply to local files and folders; ${target} is a reference URI, which is never copied or cached.`);
      }
      if (opts.policy !== undefined && opts.policy !== 'mutable' && opts.policy !== 'immutable') {
        throw new AmphoraError('invalid_request', `--policy must be mutable or immutable, got "${opts.policy}".`);
      }
      const cacheOpts = { policy: opts.policy as 'mutable' | 'immutable' | undefined, skipCache: opts.skipCache };
      if (isUri) {
        let maxObjects: number | undefined;
        if (opts.maxObjects !== undefined) {
          maxObjects = Number(opts.maxObjects);
          if (!/^\d+$/.test(opts.maxObjects) || maxObjects < 1) throw new AmphoraError('invalid_request', `--max-objects must be a whole number ≥ 1, got "${opts.maxObjects}".`);
        }
        // The reference code speaks in SDK terms (`checksum: false`); here the switch is --no-checksum.
        await art.addReference(target, { checksum: opts.checksum, maxObjects }).catch((e: unknown) => {
          if (e instanceof AmphoraError) throw new AmphoraError(e.code, e.message.replace(/pass checksum: false/g, 'pass --no-checksum'), e.details);
          throw e;
        });
      } else {
        const st = await stat(target).catch(() => undefined);
        if (!st) throw new AmphoraError('invalid_path', `${path.resolve(target)} does not exist; pass a file, a folder or a URI.`);
        if (st.isDirectory()) await art.addDir(target, cacheOpts);
        else await art.addFile(target, cacheOpts);
      }
      const c = await connect();
      const bar = out.progress('put');
      try {
        await art.log({ client: c, project: n.project, entity: n.entity, aliases: opts.alias, onProgress: bar });
      } finally {
        bar.stop();
      }
      out.result(
        { version: art.version, created: art.created ?? true, name: art.collectionName, type: art.type, project: art.project, entity: art.entity, digest: art.digest, size: art.size, fileCount: art.fileCount, aliases: art.aliases, ref: art.qualifiedName() },
        () =>
          art.created === false
            ? `unchanged: ${art.entity}/${art.project}/${art.collectionName}:${art.version} (no new version; same content) [${art.aliases.join(', ')}]`
            : `Logged ${art.entity}/${art.project}/${art.collectionName}:${art.version} [${art.aliases.join(', ')}]  ${art.fileCount} file${art.fileCount === 1 ? '' : 's'}  ${formatBytes(art.size ?? 0)}  digest ${art.digest}`,
      );
    }),
  );

artifact
  .command('get')
  .description('Download a version (fetching only what the local cache lacks).')
  .argument('<ref>', '[entity/][project/]name[:alias|:vN] (default alias: latest)')
  .option('--root <dir>', 'where to put the files (default ./artifacts/<name>:<version>)')
  .option('-t, --type <type>', 'fail unless the artifact has this type')
  .option('--skip-cache', 'write fetched files to the root only, adding nothing to the local cache (what it already holds is still used)')
  .action(
    action(async (out, ref: string, opts: { root?: string; type?: string; skipCache?: boolean }) => {
      const api = new (await sdk()).Api({ client: await connect() });
      const art = await api.artifact(ref);
      if (opts.type !== undefined && art.type !== opts.type) {
        throw new AmphoraError('type_mismatch', `${art.qualifiedName()} has type "${art.type}", not "${opts.type}"; drop --type or pass --type ${art.type}.`);
      }
      const bar = out.progress('get');
      let r;
      try {
        r = await art.download({ root: opts.root, onProgress: bar, skipCache: opts.skipCache });
      } finally {
        bar.stop();
      }
      out.result({ ref: art.qualifiedName(), version: art.version, digest: art.digest, ...r }, () => `${art.qualifiedName()} → ${r.root}  (${r.fetched} fetched, ${r.fromCache} from cache, ${r.unchanged} unchanged)`);
    }),
  );

artifact
  .command('ls')
  .description('List the artifacts of a project; without a project (and no AMPHORA_PROJECT), list the projects.')
  .argument('[project]', 'project (default: AMPHORA_PROJECT; without either, the projects are listed)')
  .option('-t, --type <type>', 'only this artifact type')
  .action(
    action(async (out, project: string | undefined, opts: { type?: string }) => {
      const c = await connect();
      if (project === undefined && !process.env.AMPHORA_PROJECT) {
        await listProjects(out, c, 'List one project\'s artifacts with: amphora artifact ls PROJECT');
        return;
      }
      const items = await paginate((q) => c.http.collections(c.entity, project ?? c.defaultProject, { ...q, type: opts.type }));
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
      const items = await paginate((page) => c.http.versions(q.entity, q.project, q.name, page));
      out.result({ items }, () =>
        table([
          ['VERSION', 'ALIASES', 'FILES', 'SIZE', 'CREATED', 'BY', 'DIGEST'],
          ...items.map((v) => [v.version, v.aliases.join(', '), String(v.fileCount), formatBytes(v.size), v.createdAt, v.createdBy ?? '-', v.digest.slice(0, 12)]),
        ]),
      );
    }),
  );

artifact
  .command('link')
  .description('Link the version SRC into a registry collection (W&B\'s link_artifact); the link keeps SRC\'s files and lineage.')
  .argument('<src>', '[entity/][project/]name[:alias|:vN] (default alias: latest)')
  .argument('<target>', '[entity/]wandb-registry-NAME/COLLECTION (wandb-registry-model and -dataset always exist)')
  .option('-a, --alias <alias>', 'alias of the link in the collection (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
  .action(
    action(async (out, src: string, target: string, opts: { alias?: string[] }) => {
      const c = await connect();
      const q = qualify(c, src);
      const t = parseLinkTarget(target);
      const source = await c.http.version(q.entity, q.project, q.name, q.selector);
      const res = await c.http.linkVersion(t.entity ?? c.entity, t.project, t.name, {
        source: { entity: source.entity, project: source.project, name: source.name, version: source.version },
        aliases: (opts.alias ?? []).map(validateAlias),
      });
      const v = res.version;
      out.result({ ...v, created: res.created }, () =>
        res.created
          ? `linked ${source.project}/${source.name}:${source.version} as ${v.project}/${v.name}:${v.version} [${v.aliases.join(', ')}]`
          : `already linked: ${v.project}/${v.name}:${v.version} is ${source.project}/${source.name}:${source.version} [${v.aliases.join(', ')}]`,
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
        const before = op === 'add' ? await c.http.version(q.entity, q.project, q.name, name).catch(() => undefined) : undefined;
        const v = await c.http.updateVersion(q.entity, q.project, q.name, q.selector, { aliases: op === 'add' ? { add: [name] } : { remove: [name] } });
        const from = before?.version ?? null;
        out.result({ ...v, alias: name, from: op === 'add' ? from : v.version, to: op === 'add' ? v.version : null }, () => {
          if (op === 'rm') return `removed ${name} from ${v.name}:${v.version}`;
          if (from === v.version) return `${name} already on ${v.name}:${v.version} (unchanged)`;
          return from ? `moved ${name} from ${from} to ${v.version} (${v.name})` : `added ${name} to ${v.name}:${v.version}`;
        });
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
          const aliases = (e.details as { aliases?: string[] } | undefined)?.aliases ?? [];
          throw new AmphoraError(e.code, `${q.name}:${q.selector} has the alias(es) ${aliases.join(', ') || '(see amphora artifact versions)'}, so it was not deleted. Delete it with its aliases: amphora artifact rm ${ref} --delete-aliases`, e.details);
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
  .option('--depth <n>', 'how many hops to follow', wholeNumber(0), 2)
  .option('--type-level', 'collapse to artifact types and job types')
  .addOption(new Option('--direction <dir>', 'which way to follow').choices(['both', 'upstream', 'downstream']).default('both'))
  .action(
    action(async (out, ref: string, opts: { depth: number; typeLevel?: boolean; direction: 'both' | 'upstream' | 'downstream' }) => {
      const depth = opts.depth;
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
  .description('Evict least-recently-used cached blobs and manifests until the cache holds at most SIZE (e.g. 10GB, 500MB, 0), and drop remembered file hashes of folders that no longer exist.')
  .argument('<size>', 'target size')
  .action(
    action(async (out, size: string) => {
      const { BlobCache, StatCache, defaultCacheDir, parseSize } = await sdk();
      const cacheDir = defaultCacheDir();
      const r = await new BlobCache(cacheDir).cleanup(parseSize(size));
      const statCache = await new StatCache(cacheDir).prune();
      out.result(
        { cacheDir, ...r, statCache },
        () =>
          `Removed ${r.removed} cached files (${formatBytes(r.freedBytes)}); ${formatBytes(r.keptBytes)} kept in ${cacheDir}` +
          (r.packsMerged ? `. Merged ${r.packsMerged} small packs into ${r.packsWritten}` : '') +
          (statCache.folders ? `. Forgot the file hashes of ${statCache.folders} folders that no longer exist (${formatBytes(statCache.bytes)}).` : ''),
      );
    }),
  );

program
  .command('gc')
  .description('Delete versions whose time-to-live ran out, then blobs no committed or pending version references (server side), after a grace period.')
  .option('--grace <seconds>', 'keep blobs younger than this (default: server default)', wholeNumber(0))
  .option('--dry-run', 'only report what would be deleted')
  .action(
    action(async (out, opts: { grace?: number; dryRun?: boolean }) => {
      const c = await connect();
      const r = await c.http.gc({ graceSeconds: opts.grace, dryRun: !!opts.dryRun });
      const expired = r.expiredVersions ?? [];
      out.result(r, () =>
        [
          ...(expired.length ? [`${opts.dryRun ? 'Would delete' : 'Deleted'} ${expired.length} expired version(s): ${expired.join(', ')}`] : []),
          `${opts.dryRun ? 'Would delete' : 'Deleted'} ${r.deletedBlobs} blobs (${formatBytes(r.freedBytes)}); kept ${r.keptYoung} younger than the grace period.`,
          ...(r.packs && (r.packs.deleted || r.packs.rewritten) ? [`Packs of small blobs: deleted ${r.packs.deleted}, rewrote ${r.packs.rewritten}; ${formatBytes(r.packs.bytesReclaimed)} reclaimed in the bucket.`] : []),
        ].join('\n'),
      );
    }),
  );

// ------------------------------------------------------------------ audit trail (team server)
program
  .command('audit')
  .description('Who logged, aliased, edited and deleted what in a project, newest first (one page; --all for every entry).')
  .argument('[project]', '[entity/]project (default: AMPHORA_PROJECT, else your default project)')
  .option('--limit <n>', 'entries per page (1–1000)', wholeNumber(1, 1000), 50)
  .option('--cursor <cursor>', 'continue after a page (the nextCursor it printed)')
  .option('--all', 'follow every page')
  .action(
    action(async (out, target: string | undefined, opts: { limit: number; cursor?: string; all?: boolean }) => {
      const c = await connect();
      let [entity, project] = [c.entity, c.defaultProject];
      if (target !== undefined) {
        const parts = target.split('/');
        if (parts.length > 2 || parts.some((p) => !p)) throw new AmphoraError('invalid_request', `"${target}" is not PROJECT or ENTITY/PROJECT (for example "mnist" or "vision/mnist").`);
        [entity, project] = parts.length === 2 ? parts : [c.entity, parts[0]];
      }
      const items: AuditEntry[] = [];
      let cursor = opts.cursor;
      let nextCursor: string | null = null;
      do {
        const page = await c.http.audit(entity, project, { limit: opts.limit, cursor });
        items.push(...page.items);
        nextCursor = page.nextCursor;
        cursor = nextCursor ?? undefined;
      } while (opts.all && cursor);
      out.result({ entity, project, items, nextCursor }, () =>
        [
          items.length ? table([['AT', 'BY', 'ACTION', 'TARGET'], ...items.map((i) => [i.at, i.actor, i.action, auditTarget(entity, i)])]) : `No audit entries in ${entity}/${project}${opts.cursor ? ' after that cursor' : ''}.`,
          ...(nextCursor ? ['', `More: amphora audit ${entity}/${project} --cursor ${nextCursor} (or --all)`] : []),
        ].join('\n'),
      );
    }),
  );

/** A grant row names the role and where; a key row whose key it was; others their target as stored. */
function auditTarget(entity: string, i: AuditEntry): string {
  const where = `${entity}${i.project ? `/${i.project}` : ''}`;
  const was = typeof i.detail.previousRole === 'string' ? ` (was ${i.detail.previousRole})` : '';
  if (i.action === 'grant.add') return `${i.target}: ${String(i.detail.role)} on ${where}${was}`;
  if (i.action === 'grant.remove') return `${i.target}: no longer ${String(i.detail.role)} on ${where}`;
  if (i.action === 'user.create') return `user ${i.target}${i.detail.siteAdmin === true ? ' (site admin)' : ''}`;
  if (i.action === 'team.create') return `team ${i.target}`;
  if (i.action === 'key.create' || i.action === 'key.revoke') return `${i.target} of ${String(i.detail.user)}${typeof i.detail.label === 'string' ? ` (${i.detail.label})` : ''}`;
  return i.target;
}

// ------------------------------------------------------------------ projects
async function listProjects(out: Out, c: Client, hint?: string): Promise<void> {
  const { items } = await c.http.projects();
  out.result({ items }, () =>
    items.length
      ? [table([['PROJECT', 'ENTITY', 'ARTIFACTS', 'RUNS', 'UPDATED'], ...items.map((p) => [p.name, p.entity, String(p.artifactCount), String(p.runCount), p.updatedAt])]), ...(hint ? ['', hint] : [])].join('\n')
      : 'No projects yet. Log an artifact with: amphora artifact put PATH -n PROJECT/NAME -t TYPE',
  );
}

program
  .command('project')
  .description('List projects.')
  .command('ls')
  .description('List the projects on the server with their artifact and run counts.')
  .action(action(async (out) => listProjects(out, await connect())));

// ------------------------------------------------------------------ sync
program
  .command('sync')
  .description('Upload runs recorded offline (Python init(mode="offline") writes amphora/offline-run-…).')
  .argument('<dir...>', 'offline run folder(s), e.g. amphora/offline-run-20260101_120000-abc123')
  .action(
    action(async (out, dirs: string[]) => {
      const c = await connect();
      const results: SyncResult[] = [];
      for (const dir of dirs) results.push(await (await sdk()).syncOfflineRun(c, path.resolve(dir)));
      out.result(
        { items: results.map((r) => ({ dir: r.dir, run: `${r.run.entity}/${r.run.project}/${r.run.id}`, name: r.run.name, state: r.run.state, applied: r.applied, alreadySynced: r.alreadySynced, artifacts: r.artifacts })) },
        () =>
          results
            .map((r) =>
              r.alreadySynced
                ? `${r.dir}: already synced as ${r.run.project}/${r.run.id} (nothing to do)`
                : `${r.dir} → run ${r.run.project}/${r.run.id} (${r.run.name}, ${r.run.state}): ${r.applied} event(s)${r.artifacts.length ? `, artifacts ${r.artifacts.join(', ')}` : ''}`,
            )
            .join('\n'),
      );
    }),
  );

program
  .command('whoami')
  .description('Who the API key belongs to, on which server, and the roles it holds there.')
  .action(
    action(async (out) => {
      const c = await connect();
      const v = await c.http.viewer();
      const grants = v.entities ?? [];
      out.result({ server: c.http.baseUrl, ...v }, () =>
        [
          `${v.user ?? v.entity}${v.siteAdmin ? ' (site admin: every role everywhere)' : ''} on ${c.http.baseUrl} (${v.mode ?? 'embedded'} server)`,
          `Default entity/project: ${v.entity}/${v.defaultProject}`,
          ...(grants.length ? ['', table([['ENTITY', 'PROJECT', 'ROLE'], ...grants.map((g) => [g.entity, g.project ?? '(all)', g.role])])] : []),
        ].join('\n'),
      );
    }),
  );

// ------------------------------------------------------------------ users, keys, teams (team server)
const user = program.command('user').description('Users and their roles on a team server (site admins; grants: admins of the entity).');

user
  .command('create')
  .description('Create a user with a personal entity of the same name; prints their first API key (shown once) on the last line.')
  .argument('<name>', 'user name (letters, digits, "_", "-", ".")')
  .option('--site-admin', 'make the user a site admin (every role everywhere)')
  .action(
    action(async (out, name: string, opts: { siteAdmin?: boolean }) => {
      const c = await connect();
      const r = await c.http.createUser({ name, siteAdmin: !!opts.siteAdmin });
      out.result({ user: r.user.name, apiKey: r.apiKey }, () =>
        [`Created user ${r.user.name}${r.user.siteAdmin ? ' (site admin)' : ''} with personal entity ${r.user.name}.`, 'API key (shown once; the server keeps only a hash):', r.apiKey].join('\n'),
      );
    }),
  );

user
  .command('grant')
  .description(`Give USER a role on an entity (team or user) or one project of it: ${ROLES.join(', ')}.`)
  .argument('<user>', 'user name')
  .argument('<target>', 'ENTITY or ENTITY/PROJECT')
  .argument('<role>', ROLES.join(' | '))
  .action(
    action(async (out, name: string, target: string, role: string) => {
      const r = parseRole(role);
      const { entity, project } = parseGrantTarget(target);
      const c = await connect();
      const g = await c.http.grant({ user: name, entity, project, role: r });
      out.result(g, () => `${g.user} is now ${g.role} of ${g.entity}${g.project ? `/${g.project}` : ' (the whole entity)'}.`);
    }),
  );

user
  .command('revoke-grant')
  .description('Take USER\'s role on an entity or one project of it away (admins of it). A role on the whole entity and one on a project are separate grants.')
  .argument('<user>', 'user name')
  .argument('<target>', 'ENTITY or ENTITY/PROJECT, as it was granted')
  .action(
    action(async (out, name: string, target: string) => {
      const { entity, project } = parseGrantTarget(target);
      const c = await connect();
      // A grant that does not exist is bad input to this command (exit 5), like an unknown key id.
      const g = await c.http.revokeGrant({ user: name, entity, project }).catch((e: unknown) => {
        if (e instanceof AmphoraError && e.code === 'not_found') throw new AmphoraError('invalid_request', e.message);
        throw e;
      });
      out.result(g, () => `${g.user} is no longer ${g.role} of ${g.entity}${g.project ? `/${g.project}` : ' (the whole entity)'}.`);
    }),
  );

user
  .command('ls')
  .description('List users and their grants (site admins).')
  .action(
    action(async (out) => {
      const c = await connect();
      const { items } = await c.http.users();
      out.result({ items }, () =>
        table([
          ['USER', 'SITE ADMIN', 'ROLES'],
          ...items.map((u) => [u.name, u.siteAdmin ? 'yes' : '', u.grants.map((g) => `${g.role}:${g.entity}${g.project ? `/${g.project}` : ''}`).join(', ')]),
        ]),
      );
    }),
  );

const key = program.command('key').description('Your API keys on a team server (site admins: anyone\'s, with --user).');

key
  .command('create')
  .description('Create an API key; prints it (shown once) on the last line.')
  .option('--label <text>', 'what the key is for, e.g. "ci" or "laptop"')
  .option('--expires-in <duration>', 'lifetime such as 3600s, 90m, 12h, 30d (default: never expires)')
  .option('--user <name>', 'for another user (site admins)')
  .action(
    action(async (out, opts: { label?: string; expiresIn?: string; user?: string }) => {
      const expiresInSeconds = opts.expiresIn === undefined ? undefined : parseDuration(opts.expiresIn);
      const c = await connect();
      const r = await c.http.createKey({ label: opts.label, expiresInSeconds, user: opts.user });
      out.result({ ...r.key, apiKey: r.apiKey }, () =>
        [`Created key ${r.key.id} for ${r.key.user}${r.key.expiresAt ? `, expires ${r.key.expiresAt}` : ''}.`, 'API key (shown once; the server keeps only a hash):', r.apiKey].join('\n'),
      );
    }),
  );

key
  .command('ls')
  .description('List your API keys: id, label, created, expiry, revocation, last use (never the keys).')
  .option('--user <name>', "another user's keys (site admins)")
  .action(
    action(async (out, opts: { user?: string }) => {
      const c = await connect();
      const { items } = await c.http.keys(opts.user);
      out.result({ items }, () =>
        table([
          ['ID', 'USER', 'LABEL', 'CREATED', 'EXPIRES', 'STATE', 'LAST USED'],
          ...items.map((k) => [k.id, k.user, k.label ?? '', k.createdAt, k.expiresAt ?? 'never', keyState(k), k.lastUsedAt ?? '-']),
        ]),
      );
    }),
  );

key
  .command('revoke')
  .description('Revoke an API key by its id (from `amphora key ls`); it stops working at once.')
  .argument('<id>', 'key id')
  .action(
    action(async (out, id: string) => {
      const c = await connect();
      // An unknown key is bad input to this command (exit 5), not a missing artifact.
      const k = await c.http.revokeKey(id).catch((e: unknown) => {
        if (e instanceof AmphoraError && e.code === 'not_found') throw new AmphoraError('invalid_request', e.message);
        throw e;
      });
      out.result(k, () => `Revoked key ${k.id} of ${k.user}${k.label ? ` (${k.label})` : ''}.`);
    }),
  );

const team = program.command('team').description('Teams on a team server: entities whose members share roles.');

team
  .command('create')
  .description('Create a team entity (site admins); then add members with `amphora team add`.')
  .argument('<name>', 'team name (shares one namespace with user names)')
  .action(
    action(async (out, name: string) => {
      const c = await connect();
      const t = await c.http.createTeam({ name });
      out.result(t, () => `Created team ${t.name}. Add members with: amphora team add ${t.name} USER ROLE`);
    }),
  );

team
  .command('add')
  .description(`Add USER to TEAM with ROLE on all its projects (${ROLES.join(', ')}); run again to change the role.`)
  .argument('<team>', 'team name')
  .argument('<user>', 'user name')
  .argument('<role>', ROLES.join(' | '))
  .action(
    action(async (out, teamName: string, name: string, role: string) => {
      const r = parseRole(role);
      const c = await connect();
      const t = await c.http.addTeamMember(teamName, { user: name, role: r });
      out.result(t, () => `${name} is now ${r} of team ${t.name} (${t.members.length} member${t.members.length === 1 ? '' : 's'}).`);
    }),
  );

// ------------------------------------------------------------------ registry members (W&B's registry roles)
const REGISTRY_ROLES: readonly RegistryRole[] = ['viewer', 'member', 'admin'];
const registry = program.command('registry').description("Registries (W&B's Registry): their members and registry roles (viewer, member, admin).");

registry
  .command('members')
  .description("List a registry's user and team members with their registry roles.")
  .argument('<registry>', '[ENTITY/]NAME (the registry name without wandb-registry-)')
  .action(
    action(async (out, ref: string) => {
      const c = await connect();
      const r = parseRegistryRef(ref, c.entity);
      const { items } = await c.http.registryMembers(r.entity, r.name);
      out.result({ entity: r.entity, registry: r.name, items }, () =>
        items.length ? table([['KIND', 'NAME', 'ROLE'], ...items.map((m) => [m.kind, m.name, m.role])]) : `Registry ${r.entity}/${r.name} has no members of its own; add one with: amphora registry add-member ${ref} USER --role viewer`,
      );
    }),
  );

registry
  .command('add-member')
  .description('Add a user (or with --team a team) to a registry with a role (default viewer); for a member already there, --role changes it.')
  .argument('<registry>', '[ENTITY/]NAME')
  .argument('<member>', 'user name (team name with --team)')
  .option('--team', 'MEMBER is a team: every member of it gets the role')
  .option('--role <role>', REGISTRY_ROLES.join(' | '))
  .action(
    action(async (out, ref: string, name: string, opts: { team?: boolean; role?: string }) => {
      const role = opts.role === undefined ? undefined : parseRegistryRole(opts.role);
      const kind = opts.team ? 'team' : 'user';
      const c = await connect();
      const r = parseRegistryRef(ref, c.entity);
      const { items } = await c.http.addRegistryMembers(r.entity, r.name, { members: [{ kind, name }], role });
      let m: RegistryMember | undefined = items.find((i) => i.kind === kind && i.name === name);
      if (m && role && m.role !== role) m = await c.http.updateRegistryMember(r.entity, r.name, kind, name, role);
      if (!m) throw new AmphoraError('internal', `The server did not list ${name} among the members of ${r.entity}/${r.name} after adding it; run amphora registry members ${ref}.`);
      out.result(m, () => `${kind === 'team' ? `Team ${name}` : name} is now ${m.role} of registry ${r.entity}/${r.name}.`);
    }),
  );

registry
  .command('remove-member')
  .description('Remove a user (or with --team a team) from a registry.')
  .argument('<registry>', '[ENTITY/]NAME')
  .argument('<member>', 'user name (team name with --team)')
  .option('--team', 'MEMBER is a team')
  .action(
    action(async (out, ref: string, name: string, opts: { team?: boolean }) => {
      const c = await connect();
      const r = parseRegistryRef(ref, c.entity);
      const m = await c.http.removeRegistryMember(r.entity, r.name, opts.team ? 'team' : 'user', name);
      out.result(m, () => `${m.kind === 'team' ? `Team ${m.name}` : m.name} is no longer ${m.role} of registry ${r.entity}/${r.name}.`);
    }),
  );

function parseRegistryRef(ref: string, defaultEntity: string): { entity: string; name: string } {
  const parts = ref.split('/');
  if (parts.length > 2 || parts.some((p) => !p)) throw new AmphoraError('invalid_request', `"${ref}" is not a registry: write NAME or ENTITY/NAME (for example "model" or "vision/model").`);
  const last = parts[parts.length - 1];
  const name = last.startsWith(REGISTRY_PREFIX) ? last.slice(REGISTRY_PREFIX.length) : last;
  return { entity: parts.length === 2 ? parts[0] : defaultEntity, name };
}

function parseRegistryRole(role: string): RegistryRole {
  if ((REGISTRY_ROLES as readonly string[]).includes(role)) return role as RegistryRole;
  throw new AmphoraError('invalid_request', `Unknown registry role "${role}"; use one of ${REGISTRY_ROLES.join(', ')} (viewer: read; member: + link, alias; admin: + delete, members).`);
}

function parseGrantTarget(target: string): { entity: string; project?: string } {
  const [entity, project, ...rest] = target.split('/');
  if (!entity || rest.length || project === '') throw new AmphoraError('invalid_request', `"${target}" is not ENTITY or ENTITY/PROJECT (for example "vision" or "vision/mnist").`);
  return { entity, project };
}

function parseRole(role: string): Role {
  if ((ROLES as readonly string[]).includes(role)) return role as Role;
  throw new AmphoraError('invalid_request', `Unknown role "${role}"; use one of ${ROLES.join(', ')} (viewer: read; editor: + log, alias, edit; admin: + delete, grant).`);
}

function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  const n = m ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new AmphoraError('invalid_request', `--expires-in "${text}" is not a duration; use a number with s, m, h or d, e.g. 30d.`);
  return n;
}

function keyState(k: ApiKeyInfo): string {
  if (k.revokedAt) return `revoked ${k.revokedAt}`;
  if (k.expiresAt && Date.parse(k.expiresAt) <= Date.now()) return 'expired';
  return 'active';
}

// Every command gets the exit-code table and --json in its --help, and usage errors exit with 2.
for (const c of [program, ...allCommands(program)]) {
  c.exitOverride();
  if (c !== program && !c.commands.length) c.option('--json', JSON_HELP);
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
      const ok = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help';
      process.exitCode = ok ? EXIT.ok : EXIT.usage;
      if (!ok && process.argv.includes('--json')) {
        process.stdout.write(JSON.stringify({ error: { code: 'usage', message: e.message.replace(/^error: /, '') } }, null, 2) + '\n');
      }
    } else {
      process.exitCode = reportError(e, process.argv.includes('--json'));
    }
  } finally {
    await client?.close().catch(() => {});
  }
}

// Not awaited at the top level: in dist/ this module runs as CommonJS (cli-main.cjs); main() reports every error itself.
void main();
