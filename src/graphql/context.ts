import { randomUUID } from 'node:crypto';
import type { AccessControl } from '../auth/access-control.js';
import type { AuditLog } from '../auth/audit-log.js';
import { UnauthenticatedError } from '../auth/auth-errors.js';
import type { AuthenticatedCaller } from '../auth/authenticator.js';
import type { Logger } from '../ports/logger.js';
import type { DatasetLoaders, DatasetService } from '../services/dataset-service.js';
import type { ExportService } from '../services/export-service.js';
import type { FeedService } from '../services/feed-service.js';
import type { PipelineLoaders, PipelineService } from '../services/pipeline-service.js';

/**
 * Who is calling: a caller whose API key or JWT was verified (src/auth/authenticator.ts). The policy decides on
 * its role and attributes; export jobs belong to its `id`.
 */
export type Caller = AuthenticatedCaller;

/** The services resolvers call; the composition root builds them once per process. */
export interface ApiServices {
  datasets: DatasetService;
  pipeline: PipelineService;
  /**
   * Export jobs. Absent when a server runs without the export path (metadata-only test servers); the export
   * fields then fail as an internal error (see `exportsOf`).
   */
  exports?: ExportService;
  /** BI feeds (src/services/feed-service.ts). Absent on servers without the export path, as `exports`. */
  feeds?: FeedService;
  /** The access policy, applied to every path: the one place resolvers ask what a caller may see and do. */
  access: AccessControl;
  /** The audit trail: export requests and denied access. */
  audit: AuditLog;
}

/** Per-request loaders: created fresh for each request so batching and caching never cross requests. */
export interface ApiLoaders {
  datasets: DatasetLoaders;
  pipeline: PipelineLoaders;
}

/** The GraphQL context, one per request. Resolvers reach services only through it. */
export interface ApiContext {
  requestId: string;
  /** Null only where no authentication ran; `callerOf` refuses it, so nothing is served anonymously. */
  caller: Caller | null;
  services: ApiServices;
  loaders: ApiLoaders;
  logger: Logger;
}

export function createApiContext(
  services: ApiServices,
  request: { caller: Caller | null; logger: Logger; requestId?: string },
): ApiContext {
  const requestId = request.requestId ?? randomUUID();
  return {
    requestId,
    caller: request.caller,
    services,
    loaders: { datasets: services.datasets.createLoaders(), pipeline: services.pipeline.createLoaders() },
    logger: request.logger.child({ requestId }),
  };
}

/**
 * The authenticated caller of a request: what every resolver resolves grants and export jobs for. Throws
 * UNAUTHENTICATED when there is none. The HTTP and websocket edges already refuse such requests before execution;
 * this is the second lock, so a path added later cannot serve anyone anonymously by mistake.
 */
export function callerOf(ctx: ApiContext): Caller {
  if (ctx.caller === null) throw new UnauthenticatedError('missing');
  return ctx.caller;
}

/**
 * A caller for code that must act for someone even where no authentication ran (routes of a server built without
 * `authenticate`, i.e. test servers): the caller, else one with a role no policy defines, which sees and may do
 * nothing. There is no anonymous admin: the API's composition always authenticates.
 */
export function callerOrAnonymous(caller: Caller | null): Caller {
  return caller ?? ANONYMOUS;
}

const ANONYMOUS: Caller = Object.freeze({
  id: 'anonymous',
  subject: 'anonymous',
  name: 'anonymous',
  // Not a valid role name (src/auth/policy.ts), so no policy file can ever grant it anything.
  role: '(anonymous)',
  attributes: Object.freeze({}),
  via: 'api-key' as const,
});

/** The export service, or an internal error when this server was built without it. */
export function exportsOf(ctx: ApiContext): ExportService {
  if (ctx.services.exports === undefined) throw new Error('the export service is not configured on this server');
  return ctx.services.exports;
}

/** The feed service, or an internal error when this server was built without it. */
export function feedsOf(ctx: ApiContext): FeedService {
  if (ctx.services.feeds === undefined) throw new Error('the feed service is not configured on this server');
  return ctx.services.feeds;
}
