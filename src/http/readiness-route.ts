import type { Express } from 'express';
import type { Logger } from '../ports/logger.js';
import { describeError } from '../domain/errors.js';

/** One dependency the API cannot serve without, and how to reach it cheaply. */
export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; throws when it does not. */
  probe(): Promise<void>;
}

export interface ReadinessRouteDeps {
  checks: ReadinessCheck[];
  logger: Logger;
  /** A probe that takes longer counts as failed. Default 5 s. */
  timeoutMs?: number;
  /** How long an answer is reused: anonymous requests never reach the store more often. Default 5 s. */
  cacheMs?: number;
  now?: () => number;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'unavailable'>;
}

/**
 * `GET /readyz`: whether the API can serve data now, for a load balancer or an orchestrator. `/healthz` says the
 * process is up; this one asks the object store and the catalog, so an S3 or Glue outage answers 503 instead of ok.
 *
 * Anonymous, like `/healthz`: the answer names each check and ok or unavailable, never why (the reason is logged).
 * One probe runs at a time and its answer is reused for `cacheMs`, so requests cannot multiply calls to the store.
 */
export function readinessRoute(deps: ReadinessRouteDeps): (app: Express) => void {
  const probe = readinessProbe(deps);
  return (app) => {
    app.get('/readyz', (_req, res) => {
      void probe().then((report) => {
        res
          .status(report.ready ? 200 : 503)
          .set('cache-control', 'no-store')
          .json({ status: report.ready ? 'ready' : 'unavailable', checks: report.checks });
      });
    });
  };
}

/** The probe behind `/readyz`: runs every check with a time limit, at most once per `cacheMs`. */
export function readinessProbe(deps: ReadinessRouteDeps): () => Promise<ReadinessReport> {
  const timeoutMs = deps.timeoutMs ?? 5000;
  const cacheMs = deps.cacheMs ?? 5000;
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'readiness' });
  let last: { at: number; report: ReadinessReport } | undefined;
  let running: Promise<ReadinessReport> | undefined;

  const runOne = async (check: ReadinessCheck): Promise<'ok' | 'unavailable'> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check.probe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return 'ok';
    } catch (err) {
      logger.warn('readiness check failed', {
        check: check.name,
        error: describeError(err),
      });
      return 'unavailable';
    } finally {
      clearTimeout(timer);
    }
  };

  return () => {
    if (last !== undefined && now() - last.at < cacheMs) return Promise.resolve(last.report);
    running ??= (async () => {
      const results = await Promise.all(deps.checks.map(async (c) => [c.name, await runOne(c)] as const));
      const report: ReadinessReport = {
        ready: results.every(([, r]) => r === 'ok'),
        checks: Object.fromEntries(results),
      };
      last = { at: now(), report };
      return report;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}
