import type { FastifyInstance, FastifyBaseLogger, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Authenticator } from './auth/authenticator.js';
import type { BlobStore } from './blobs/blobStore.js';
import type { EventBus } from './events.js';
import type { ArtifactService } from './services/artifacts.js';
import type { LineageService } from './services/lineage.js';
import type { RegistryService } from './services/registries.js';
import type { RunService } from './services/runs.js';
import type { UserService } from './services/users.js';
import type { Database } from './store/database.js';

/** Everything a route plugin needs; built once per server by startServer. */
export interface ServerContext {
  /** Embedded mode only (where the discovery file lives). */
  dataDir: string | undefined;
  mode: 'embedded' | 'team';
  /** Bearer key → Principal (embedded: the owner key; team: hashed keys in the database). */
  auth: Authenticator;
  users: UserService;
  db: Database;
  blobs: BlobStore;
  events: EventBus;
  artifacts: ArtifactService;
  runs: RunService;
  registries: RegistryService;
  lineage: LineageService;
  sseKeepAliveMs: number;
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
export type RoutePlugin = (app: App, ctx: ServerContext) => void | Promise<void>;
