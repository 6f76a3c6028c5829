import { randomUUID } from 'node:crypto';
import type { Logger } from '../ports/logger.js';
import type { DatasetLoaders, DatasetService } from '../services/dataset-service.js';
import type { ExportService } from '../services/export-service.js';
import type { PipelineLoaders, PipelineService } from '../services/pipeline-service.js';

/**
 * Who is calling. A placeholder until authentication exists: the auth layer fills it per request (API key
 * or JWT) and services that enforce the policy read it from here. Null means anonymous.
 */
export interface Caller {
  id: string;
  role: string;
}

/** The services resolvers call; the composition root builds them once per process. */
export interface ApiServices {
  datasets: DatasetService;
  pipeline: PipelineService;
  /**
   * Export jobs. Absent when a server runs without the export path (metadata-only test servers); the export
   * fields then fail as an internal error (see `exportsOf`).
   */
  exports?: ExportService;
}

/** Per-request loaders: created fresh for each request so batching and caching never cross requests. */
export interface ApiLoaders {
  datasets: DatasetLoaders;
  pipeline: PipelineLoaders;
}

/** The GraphQL context, one per request. Resolvers reach services only through it. */
export interface ApiContext {
  requestId: string;
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
 * The caller export jobs and grants are resolved for: the authenticated caller, or, while the server runs without
 * authentication, one anonymous admin. The one place that default lives.
 */
export function callerOf(ctx: ApiContext): Caller {
  return ctx.caller ?? ANONYMOUS;
}

const ANONYMOUS: Caller = Object.freeze({ id: 'anonymous', role: 'admin' });

/** The export service, or an internal error when this server was built without it. */
export function exportsOf(ctx: ApiContext): ExportService {
  if (ctx.services.exports === undefined) throw new Error('the export service is not configured on this server');
  return ctx.services.exports;
}
