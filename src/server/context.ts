import type { FastifyInstance, FastifyBaseLogger, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { BlobStore } from './blobs/blobStore.js';
import type { EventBus } from './events.js';
import type { ArtifactService } from './services/artifacts.js';
import type { LineageService } from './services/lineage.js';
import type { RunService } from './services/runs.js';
import type { Database } from './store/database.js';

/** Everything a route plugin needs; built once per server by startServer. */
export interface ServerContext {
  /** Embedded mode only (where the discovery file lives). */
  dataDir: string | undefined;
  apiKey: string;
  entity: string;
  mode: 'embedded' | 'team';
  db: Database;
  blobs: BlobStore;
  events: EventBus;
  artifacts: ArtifactService;
  runs: RunService;
  lineage: LineageService;
  sseKeepAliveMs: number;
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
export type RoutePlugin = (app: App, ctx: ServerContext) => void | Promise<void>;
