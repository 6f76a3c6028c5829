import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  AppError,
  BadInputError,
  ConflictError,
  LimitExceededError,
  NotFoundError,
  describeError,
} from '../domain/errors.js';
import { exportFingerprint, exportRequestHash } from '../domain/export-fingerprint.js';
import type { EffectiveGrant } from '../domain/export-grant.js';
import {
  type ExportCaller,
  type ExportFailureCode,
  type ExportJobProgress,
  type ExportJobRecord,
  type ExportJobResult,
  type ExportJobStatus,
  type ExportJobView,
  EXPORT_JOB_STATUSES,
  exportResultPrefixes,
  isFinished,
  JOB_HISTORY_DAYS,
  statusAt,
} from '../domain/export-job.js';
import type { ExportEstimate, ExportPlan } from '../domain/export-plan.js';
import {
  DEFAULT_EXPORT_LIMITS,
  type ExportLimits,
  type ExportRequestInput,
  type NormalizedExportRequest,
  normalizeExportRequest,
} from '../domain/export-request.js';
import { type MaskKeySource, maskKeyFor, maskKeyId } from '../domain/mask-key.js';
import type { TableDefinition } from '../domain/table.js';
import { credentialExpiresAt, partitionCountShown } from '../domain/policy.js';
import type { Catalog } from '../ports/catalog.js';
import type { DownloadLinkIssuer } from '../ports/download-links.js';
import {
  type EngineProgress,
  ExportCancelledError,
  type ExportEngine,
  ExportFailedError,
} from '../ports/export-engine.js';
import type { JobDispatcher } from '../ports/job-dispatcher.js';
import type { IdempotencyBinding, JobStore } from '../ports/job-store.js';
import type { Logger } from '../ports/logger.js';
import type { ObjectStore } from '../ports/object-store.js';
import { ExportPlanner } from './export-planner.js';
import { InProcessJobDispatcher } from './in-process-job-dispatcher.js';
import { type Page, type PageArgs, paginate } from './pagination.js';
import type { DatasetSnapshotCache } from './dataset-snapshots.js';
import type { ParquetFooterCache } from './parquet-footer-cache.js';

/** Jobs a repeated request may be answered with: anything that has, or will have, a result. */
const REUSABLE: readonly ExportJobStatus[] = ['QUEUED', 'RUNNING', 'SUCCEEDED'];
/** Ends after which an idempotency key's job has nothing to hand out: the key goes to a new job. */
const ENDED_WITHOUT_RESULT: readonly ExportJobStatus[] = ['FAILED', 'CANCELLED', 'EXPIRED'];
export const EXPORT_CURSOR_KIND = 'export';
/** How the reason starts when a restart interrupted a job, followed by why it could not simply run again. */
export const INTERRUPTED_BY_RESTART = 'interrupted by restart';
/**
 * The reason a job gets when a restart interrupted it once too often: it is not started again by itself (a job that
 * brings the process down must not loop), so the requester is told to request it again.
 */
export const INTERRUPTED_TOO_OFTEN = `${INTERRUPTED_BY_RESTART} too often: request it again`;

export interface ExportServiceDeps {
  catalog: Catalog;
  store: ObjectStore;
  jobs: JobStore;
  engine: ExportEngine;
  links: DownloadLinkIssuer;
  footers: ParquetFooterCache;
  logger: Logger;
  /**
   * Listings kept across requests by data version (ExportPlanner): with them `requestExport` and `estimateExport`
   * list a dataset only when its data version changed (or the cache's time limit passed). A job's data version is
   * always checked against a new listing before a worker or `recover` runs it. Default: every plan lists.
   */
  snapshots?: DatasetSnapshotCache;
  /**
   * Who runs new jobs. Default: this service's worker pool (InProcessJobDispatcher). With a queue (SQS), jobs run
   * in an export worker that calls `runJob`, and this process only records, reads and cancels them.
   */
  dispatcher?: JobDispatcher;
  /**
   * The deployment's key of `hash` masks (mask-key.ts), the one the engine hashes with: its id is part of a job's
   * fingerprint, so a job is re-used only under the key it was hashed with. Needed for requests that hash a column.
   */
  maskKey?: MaskKeySource;
}

/**
 * With a queue, a repeat request finding its job still QUEUED after this long sends it again: SQS delivers within
 * seconds and a worker marks the job RUNNING as it starts, so a job this old and still QUEUED has no message.
 */
const QUEUED_RESEND_AFTER_MS = 60_000;
/** How long `close` waits for watchers to hand their consumers the states the shutdown gave their jobs. */
const WATCHERS_TOLD_MS = 1_000;

/** Why a job that hashes a column is not run: the mask key changed between its request and its run. */
const MASK_KEY_CHANGED = 'the mask key or how values are hashed changed since the request: request it again';

/** Why a job is not run: its dataset, or the columns it asks for, is gone since the request. */
const NO_LONGER_AVAILABLE = 'the dataset is no longer available as requested: request it again';

/**
 * Times one start of a job is planned again because its files changed as it was about to read them (each a
 * compaction or an ingest landing just then); past that it fails DATA_CHANGED.
 */
const MAX_REBASES = 3;

export interface RunJobOptions {
  /**
   * How long `runJob` may take, in ms from its call, before the run is stopped and the job fails LIMIT_EXCEEDED (the
   * worker's time left). The time spent before the engine starts (reading the job, planning it) counts too.
   */
  timeLimitMs?: number;
}

/** What `runJob` did: ran the job; found nothing to do; left it to the worker running it; found no such job. */
export type RunJobOutcome = 'ran' | 'done' | 'busy' | 'missing';

export interface ExportServiceOptions {
  /** Jobs run at once; the rest wait in a FIFO queue. Default 2. */
  concurrency?: number;
  limits?: ExportLimits;
  /** How long results are kept after a job succeeds, in ms. Default 7 days. */
  retentionMs?: number;
  /**
   * Starts a job may have. A job a restart interrupted is queued again while it has starts left, else it
   * fails with INTERRUPTED. Default 2: one retry, so a job that brings the process down cannot loop.
   */
  maxAttempts?: number;
  /** Progress is persisted at most this often, in ms (events go out on every report). Default 2000. */
  progressPersistMs?: number;
  /**
   * `runJob` only: how long one start of a job may run, in ms (the worker's time limit). A RUNNING job started
   * longer ago than this lost its worker and is taken over. Default 15 minutes.
   */
  leaseMs?: number;
  /** `runJob` only: how often the job store is asked whether the running job's requester cancelled it, in ms. Default 2000. */
  cancelPollMs?: number;
  /**
   * With a queue dispatcher, export workers change the jobs in processes of their own, which send this one no
   * events: a watcher (`watchExport`: subscriptions, a feed waiting for its build) reads its job from the store this
   * often, in ms, while no event comes. Default 1000 with a queue dispatcher; 0 (never) with the in-process one.
   */
  watchPollMs?: number;
  /**
   * Waits, in ms, before each new try of a job's final record (SUCCEEDED, FAILED, CANCELLED) when the store refuses
   * the write. Default [200, 1000, 5000]: a store that recovers within seconds loses nothing.
   */
  finalWriteRetryMs?: readonly number[];
  /**
   * After those tries, the final record is tried again this often, in ms, in the background until it lands or the
   * service closes: a store that is down for longer does not leave the job RUNNING in storage until the next
   * start's `recover()`. Default 30000.
   */
  finalWriteBackgroundMs?: number;
  now?: () => Date;
  newId?: () => string;
}

export interface ListExportsArgs extends PageArgs {
  status?: ExportJobStatus | null;
}

interface QueueEntry {
  id: string;
  plan: ExportPlan;
  /** Run with no other job beside it: it ran out of memory or disk while others ran in the same engine. */
  alone?: boolean;
}

/** A change of a job record, as `JobStore.update` applies it. */
type RecordChange = (job: ExportJobRecord) => ExportJobRecord;

/** Why a job ends FAILED, as its record says. */
interface ExportFailure {
  code: ExportFailureCode;
  message: string;
}

/** A started job put back in the queue, its start not counted (a shutdown, a run again alone). */
function backToQueue(plan: ExportPlan): (job: ExportJobRecord) => ExportJobRecord {
  return (j) => ({
    ...j,
    status: 'QUEUED',
    startedAt: null,
    attempts: Math.max(0, j.attempts - 1),
    progress: initialProgress(plan),
  });
}

interface RunningJob {
  controller: AbortController;
  done: Promise<void>;
  /** Nothing else may start while it runs (QueueEntry.alone). */
  alone?: boolean;
}

/**
 * An export asked of a service that is closing for a shutdown (ExportService.close): its HTTP server still takes
 * requests until the service has handed its running jobs back. Said so, rather than "Unexpected error": the request
 * may be made again shortly, of the next process. A feed answers it 503 with Retry-After.
 */
export class ExportServiceClosedError extends AppError {
  constructor() {
    super('INTERNAL_SERVER_ERROR', 'the server is shutting down: ask again in a few seconds');
    this.name = 'ExportServiceClosedError';
  }
}

/**
 * Export jobs: validation and pre-flight estimate at request time, re-use of identical work, a FIFO queue with a
 * worker pool, progress events, cancellation, recovery after a restart and retention.
 *
 * With the in-process dispatcher (embedded), one process owns the jobs it runs: job state lives in the JobStore, and
 * `recover()` at start-up takes over jobs a previous process left QUEUED or RUNNING; two such API processes sharing
 * one store is not supported. With a queue dispatcher (AWS), API processes only record, read and cancel jobs, and
 * any number of export workers run them through `runJob`, which claims each start in the store so that a job runs
 * once per start whoever receives it.
 */
export class ExportService {
  private readonly limits: ExportLimits;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  private readonly maxAttempts: number;
  private readonly progressPersistMs: number;
  private readonly leaseMs: number;
  private readonly cancelPollMs: number;
  private readonly watchPollMs: number;
  private readonly finalWriteRetryMs: readonly number[];
  private readonly finalWriteBackgroundMs: number;
  /** Final records the store refused through every try, by job: tried again in the background (`settleLater`). */
  private readonly unsettled = new Map<string, (job: ExportJobRecord) => ExportJobRecord>();
  private settleTimer: NodeJS.Timeout | undefined;
  /** The background pass over `unsettled` under way, which `close()` waits for. */
  private settling: Promise<void> | undefined;
  private readonly dispatcher: JobDispatcher;
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly planner: ExportPlanner;
  private readonly queue: QueueEntry[] = [];
  private readonly running = new Map<string, RunningJob>();
  /** The freshest record of every job this process has queued or runs (progress is ahead of the store). */
  private readonly live = new Map<string, ExportJobRecord>();
  private readonly persistedAt = new Map<string, number>();
  private readonly events = new EventEmitter();
  /** Jobs whose cancellation a caller asked for; any other abort is a shutdown. */
  private readonly cancelRequested = new Set<string>();
  /** Jobs stopped by `runJob`'s deadline (the worker's time limit), which end FAILED rather than CANCELLED. */
  private readonly timedOut = new Set<string>();
  private closed = false;
  private closing: Promise<void> | undefined;
  /**
   * Every watcher (`watchExport`): `told`, a promise that it has handed its consumer every change so far (it waits for
   * the next one, or it ended), and `stop`, which ends it. `close` waits for them, so that a subscriber is sent the
   * QUEUED of a job the shutdown handed back before its websocket closes; then it ends those that asked for it
   * (`endOnClose`): no job changes here after that, and a feed fetch waiting for its build would wait for nothing.
   */
  private readonly watchers = new Set<{ told: () => Promise<void>; stop: () => void; endOnClose: boolean }>();
  /** Set by `abandon`: another process owns this process's jobs now; nothing more is written about them. */
  private abandoned = false;

  constructor(
    private readonly deps: ExportServiceDeps,
    options: ExportServiceOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_EXPORT_LIMITS;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 2);
    this.progressPersistMs = options.progressPersistMs ?? 2000;
    this.leaseMs = options.leaseMs ?? 15 * 60 * 1000;
    this.cancelPollMs = options.cancelPollMs ?? 2000;
    this.finalWriteRetryMs = options.finalWriteRetryMs ?? [200, 1000, 5000];
    this.finalWriteBackgroundMs = Math.max(1, options.finalWriteBackgroundMs ?? 30_000);
    this.dispatcher =
      deps.dispatcher ??
      new InProcessJobDispatcher((entry) => {
        this.queue.push(entry);
        this.pump();
      });
    this.watchPollMs = Math.max(0, options.watchPollMs ?? (this.dispatcher.kind === 'in-process' ? 0 : 1000));
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
    this.planner = new ExportPlanner(deps.store, deps.footers, {
      ...(deps.snapshots !== undefined ? { snapshots: deps.snapshots } : {}),
    });
    // Every GraphQL subscriber adds a listener; the default cap of 10 would warn under normal use.
    this.events.setMaxListeners(0);
  }

  /**
   * Validates the request against the catalog (under the caller's grant), estimates it, applies the limits and
   * returns a job at once: a new QUEUED job, or the caller's existing job for the same request on the same data
   * (QUEUED, RUNNING or SUCCEEDED), or the job an idempotency key was first used for.
   * Throws NotFoundError (dataset), BadInputError (request), LimitExceededError, ConflictError (idempotency key
   * reused for a different request).
   */
  async requestExport(
    caller: ExportCaller,
    input: ExportRequestInput,
    grant: EffectiveGrant | null = null,
  ): Promise<ExportJobView> {
    return (await this.requestExportJob(caller, input, grant)).job;
  }

  /**
   * `requestExport`, also saying whether this call made the job (`created`) or was answered with one that existed:
   * a client that did not start a job must not cancel it when its own user gives up.
   */
  async requestExportJob(
    caller: ExportCaller,
    input: ExportRequestInput,
    grant: EffectiveGrant | null = null,
  ): Promise<{ job: ExportJobView; created: boolean; waiter: string }> {
    if (this.closed) throw new ExportServiceClosedError();
    const table = await this.table(input.dataset);
    const request = normalizeExportRequest(input, table, this.limits, grant);
    const requestHash = exportRequestHash(request);
    const key = request.idempotencyKey;
    // This request's wait (see ExportJobRecord.waiting): a keyed request's repeats are the same request.
    const waiter =
      key === null
        ? randomUUID()
        : `key-${createHash('sha256').update(`${caller.id}\n${key}`).digest('hex').slice(0, 32)}`;
    // A key whose job ended without a result to hand out (failed, cancelled, expired) is given to a new job: its
    // message says "request it again", and a client that retries safely with the same key must be able to.
    let rebindFrom: string | undefined;
    if (key !== null) {
      const bound = await this.deps.jobs.findByIdempotencyKey(caller.id, key);
      if (bound !== undefined) {
        const boundJob = await this.boundJob(bound, requestHash);
        if (boundJob !== undefined && !ENDED_WITHOUT_RESULT.includes(statusAt(boundJob, this.now()))) {
          return { job: await this.view(await this.waitFor(boundJob, waiter), caller), created: false, waiter };
        }
        rebindFrom = bound.jobId;
      }
    }
    const plan = await this.planner.plan(table, request, this.limits.maxRows);
    this.checkLimits(plan);
    const maskKey = await maskKeyFor(request.columns, this.deps.maskKey);
    const now = this.now().toISOString();
    const candidate: ExportJobRecord = {
      recordVersion: 1,
      id: this.newId(),
      status: 'QUEUED',
      engine: this.deps.engine.kind,
      dataset: table.name,
      request,
      requestHash,
      fingerprint: exportFingerprint(request, plan.dataVersion, maskKey === undefined ? null : maskKeyId(maskKey)),
      dataVersion: plan.dataVersion,
      requestedBy: caller.id,
      idempotencyKey: key,
      grant,
      estimate: estimateShown(plan, grant),
      effectiveLimit: plan.effectiveLimit,
      progress: initialProgress(plan),
      attempts: 0,
      waiting: [waiter],
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
      expiresAt: null,
      error: null,
      result: null,
    };
    // A result past its expiry is not handed out again, even before retention has marked it EXPIRED.
    let { job, created } = await this.deps.jobs.create(candidate, (existing) =>
      REUSABLE.includes(statusAt(existing, this.now())),
    );
    if (!created && job.status === 'SUCCEEDED' && !(await this.resultIntact(job))) {
      // Its files were removed outside retention (by hand, a lifecycle rule): its links would answer 404 for good and
      // every identical request would get it back. It is marked EXPIRED, and the request makes a new job.
      await this.expireGone(job);
      ({ job, created } = await this.deps.jobs.create(candidate, (existing) =>
        REUSABLE.includes(statusAt(existing, this.now())),
      ));
    }
    if (key !== null) {
      // The key is bound before the job is sent anywhere: when another request took it first, a job this call made
      // never runs (it is cancelled before a worker can see it), and the answer is the key's job, or a conflict
      // when the two requests differ.
      let binding: IdempotencyBinding;
      try {
        binding =
          rebindFrom === undefined
            ? await this.deps.jobs.bindIdempotencyKey(caller.id, key, { jobId: job.id, requestHash })
            : await this.deps.jobs.rebindIdempotencyKey(caller.id, key, rebindFrom, { jobId: job.id, requestHash });
      } catch (err) {
        // Not sent anywhere yet: a job this call made would stay QUEUED for good (and be handed to later requests).
        if (created) {
          await this.cancelUnsent(job).catch((cancelErr: unknown) =>
            this.deps.logger.error('could not cancel an export job its request never sent', {
              jobId: job.id,
              error: String(cancelErr),
            }),
          );
        }
        throw err;
      }
      if (binding.jobId !== job.id) {
        if (created) await this.cancelUnsent(job);
        const winner = await this.boundJob(binding, requestHash);
        if (winner === undefined) throw new Error(`idempotency key bound to missing export job ${binding.jobId}`);
        return { job: await this.view(await this.waitFor(winner, waiter), caller), created: false, waiter };
      }
    }
    let current: ExportJobRecord;
    if (created) {
      this.deps.logger.info('export job queued', { jobId: job.id, dataset: job.dataset, files: plan.estimate.files });
      current = await this.dispatch(job, plan);
    } else {
      // One more request waits for it (another terminal or script of the caller's): a release by one of them must
      // not cancel it for this one (`releaseExport`).
      current = await this.waitFor(job, waiter);
    }
    if (!created && this.dispatcher.kind !== 'in-process' && current.status === 'QUEUED' && this.sendLost(current)) {
      // The process that recorded this job may have stopped before its message reached the queue (a Lambda ended
      // between the two writes): send it again rather than hand back a job nothing will run. A second message for a
      // job that is in the queue after all is harmless: runJob claims each start once.
      this.deps.logger.warn('export job still queued: sending it to the workers again', { jobId: job.id });
      current = await this.dispatch(current, plan);
    }
    return { job: await this.view(this.live.get(job.id) ?? current, caller), created, waiter };
  }

  /** The job with `waiter` among the requests waiting for it, while it is unfinished (ExportJobRecord.waiting). */
  private async waitFor(job: ExportJobRecord, waiter: string): Promise<ExportJobRecord> {
    if (isFinished(job.status) || job.waiting === undefined || job.waiting.includes(waiter)) return job;
    return this.changeByRequest(job.id, (j) =>
      isFinished(j.status) || j.waiting === undefined || j.waiting.includes(waiter)
        ? j
        : { ...j, waiting: [...j.waiting, waiter] },
    );
  }

  /**
   * Ends a job this process made but never sent to a worker, and takes it out of the caller's listing: the request
   * that made it was answered with another job or refused, so the caller never saw it. Its record stays CANCELLED,
   * for a request with the same fingerprint that was handed it meanwhile.
   */
  private async cancelUnsent(job: ExportJobRecord): Promise<void> {
    await this.transition(job.id, (j) =>
      j.status === 'QUEUED' ? { ...j, status: 'CANCELLED', finishedAt: this.now().toISOString() } : j,
    );
    await this.deps.jobs.unlist(job);
  }

  /** A request validated and normalised as `requestExport` does it, without planning or starting anything. */
  async normalizeRequest(
    input: ExportRequestInput,
    grant: EffectiveGrant | null = null,
  ): Promise<NormalizedExportRequest> {
    const table = await this.table(input.dataset);
    return normalizeExportRequest({ ...input, idempotencyKey: null }, table, this.limits, grant);
  }

  /** The pre-flight estimate of a request, validated as `requestExport` validates it. */
  async estimateExport(
    _caller: ExportCaller,
    input: ExportRequestInput,
    grant: EffectiveGrant | null = null,
  ): Promise<ExportEstimate> {
    const table = await this.table(input.dataset);
    const request = normalizeExportRequest({ ...input, idempotencyKey: null }, table, this.limits, grant);
    return estimateShown(await this.planner.plan(table, request, this.limits.maxRows), grant);
  }

  /** A job of the caller's, with fresh download links when it succeeded. Another caller's job is NOT_FOUND too. */
  async getExport(caller: ExportCaller, id: string): Promise<ExportJobView> {
    let job = await this.ownJob(caller, id);
    if (
      this.dispatcher.kind !== 'in-process' &&
      job.status === 'QUEUED' &&
      job.sentAt === undefined &&
      this.sendLost(job)
    ) {
      // The process that recorded it ended before its message was sent (a Lambda ended between the two writes):
      // clients that requested once and now poll the job (the CLI, the console) would wait for good.
      job = await this.resend(job);
    }
    return this.view(job, caller);
  }

  /** The caller's jobs, newest first, optionally of one status; cursor-paginated. */
  async listExports(caller: ExportCaller, args: ListExportsArgs = {}): Promise<Page<ExportJobView>> {
    const status = args.status ?? null;
    if (status !== null && !EXPORT_JOB_STATUSES.includes(status)) {
      throw new BadInputError(`status: unknown export status ${JSON.stringify(status)}`);
    }
    if (status === null) {
      const page = await this.listedPage(caller, args);
      if (page !== undefined) return page;
    }
    const stored = await this.deps.jobs.listByRequester(caller.id);
    const now = this.now();
    const jobs = stored
      .map((j) => this.live.get(j.id) ?? j)
      .filter((j) => status === null || statusAt(j, now) === status)
      .sort((a, b) => compareText(sortKey(a), sortKey(b)));
    const page = paginate(jobs, sortKey, EXPORT_CURSOR_KIND, args);
    const edges = await Promise.all(
      page.edges.map(async (e) => ({ cursor: e.cursor, node: await this.view(e.node, caller) })),
    );
    return { ...page, edges };
  }

  /**
   * A page of the caller's jobs of any status read from its listing, one record per job on the page (a caller's
   * listing holds every job of the last JOB_HISTORY_DAYS: reading them all for each page cost a read per job). The
   * listing's order is the page's (sortKey). Undefined, for the caller to read every record instead, when a job on the
   * page has no record that matches its entry (a sweep deleting it, or a record of another requester).
   */
  private async listedPage(caller: ExportCaller, args: ListExportsArgs): Promise<Page<ExportJobView> | undefined> {
    const entries = [...(await this.deps.jobs.listRequesterEntries(caller.id))].sort((a, b) =>
      compareText(a.order, b.order),
    );
    const page = paginate(entries, (e) => e.order, EXPORT_CURSOR_KIND, args);
    const jobs = await Promise.all(
      page.edges.map(async (e) => this.live.get(e.node.id) ?? (await this.deps.jobs.get(e.node.id))),
    );
    const nodes: ExportJobRecord[] = [];
    for (const [i, job] of jobs.entries()) {
      if (job === undefined || job.requestedBy !== caller.id || sortKey(job) !== page.edges[i]!.node.order) {
        return undefined;
      }
      nodes.push(job);
    }
    const edges = await Promise.all(
      page.edges.map(async (e, i) => ({ cursor: e.cursor, node: await this.view(nodes[i]!, caller) })),
    );
    return { ...page, edges };
  }

  /**
   * Cancels a job of the caller's: a queued job leaves the queue, a running one has its query stopped and its
   * partial output removed. A finished job is returned unchanged.
   */
  async cancelExport(caller: ExportCaller, id: string): Promise<ExportJobView> {
    const job = await this.ownJob(caller, id);
    if (isFinished(job.status)) return this.view(job, caller);
    const running = this.running.get(id);
    if (running !== undefined) {
      this.cancelRequested.add(id);
      running.controller.abort();
      await running.done;
      return this.view(await this.ownJob(caller, id), caller);
    }
    const queued = this.queue.findIndex((e) => e.id === id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      // A job waiting to run alone may have held the queue back with a slot free: the next one may start now.
      this.pump();
    }
    // A worker elsewhere may be running it: it polls for this request (see runJob).
    if (this.dispatcher.kind !== 'in-process') await this.deps.jobs.requestCancel(id, this.now().toISOString());
    // Queued here, or left QUEUED/RUNNING by a previous process and not yet recovered: nothing runs it now. With a
    // queue, a worker may end the job between the read above and this write: a FAILED job stays FAILED; a job that
    // SUCCEEDED meanwhile is cancelled all the same (the worker, seeing the cancel request, removes its result too),
    // so the requester is never told CANCELLED while a result stays behind.
    let outputLeft = job.status === 'RUNNING';
    const cancelled = await this.transition(id, (j) => {
      if (isFinished(j.status) && j.status !== 'SUCCEEDED') return j;
      outputLeft ||= j.status === 'SUCCEEDED';
      return { ...j, status: 'CANCELLED', finishedAt: this.now().toISOString(), expiresAt: null, result: null };
    });
    if (outputLeft) await this.removeOutput(id);
    return this.view(cancelled, caller);
  }

  /**
   * A request no longer waits for its job (its CLI was interrupted): `waiter` (what `requestExport` handed it) leaves
   * the job's waiting requests, and the job is cancelled, as `cancelExport`, when it was the last; otherwise it runs
   * on for the others. Releasing twice is releasing once. A job recorded before waiters were kept is cancelled. A
   * finished job is returned unchanged. A request answered with the job between the last release and the cancel
   * gets it CANCELLED, as after any cancel.
   */
  async releaseExport(caller: ExportCaller, id: string, waiter: string): Promise<ExportJobView> {
    const job = await this.ownJob(caller, id);
    if (isFinished(job.status)) return this.view(job, caller);
    let last = false;
    const released = await this.changeByRequest(id, (j) => {
      if (isFinished(j.status)) return j;
      if (j.waiting === undefined) {
        last = true;
        return j;
      }
      last = j.waiting.length === 1 && j.waiting[0] === waiter;
      // Released already, or never its (a waiter of another job): nothing changes.
      if (last || !j.waiting.includes(waiter)) return j;
      return { ...j, waiting: j.waiting.filter((w) => w !== waiter) };
    });
    if (last) return this.cancelExport(caller, id);
    this.deps.logger.info('export job released by one of its requests; others still wait', {
      jobId: id,
      waiting: released.waiting?.length,
    });
    return this.view(released, caller);
  }

  /**
   * Job updates for a subscription. Checks the job is the caller's first (NotFoundError otherwise, before any
   * value), then iterates: the job as it is now, then every change, coalesced to the latest when the consumer is
   * slower than the updates; ends after a finished state, on `return()` (an unsubscribe, at once), when `signal`
   * aborts, or, with `endOnClose`, when the service closes (after the state the shutdown gave the job, see `close`).
   * A subscription does not end so: its stream completes after a final state only, as the schema says, and its client
   * learns of the shutdown from its websocket closing. Jobs run by workers elsewhere (a queue dispatcher) are also read
   * from the store every `watchPollMs` while no event comes, and a changed record is the next value.
   */
  async watchExport(
    caller: ExportCaller,
    id: string,
    options?: { signal?: AbortSignal; endOnClose?: boolean },
  ): Promise<AsyncIterableIterator<ExportJobView>> {
    const signal = options?.signal;
    let latest: ExportJobRecord | undefined;
    let wake: (() => void) | undefined;
    let stopped = false;
    let ended = false;
    /**
     * `updatedAt` of every record seen (yielded or pending): a polled record is news when it is none of them. Not
     * "later than": the worker's clock and this process's may disagree. A read that started before an event can only
     * bring back a state seen already, or one that is not final and that the next read supersedes.
     */
    const seen = new Set<string>();
    let readFailed = false;
    // Waiting with everything told (or ended), and who waits for that (see `watchers`).
    let idle = false;
    let idleWaiters: (() => void)[] = [];
    const nowIdle = (): void => {
      idle = true;
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
    };
    const told = (): Promise<void> => (idle ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve)));
    const listener = (job: ExportJobRecord): void => {
      if (job.id !== id) return;
      latest = job;
      seen.add(job.updatedAt);
      idle = false;
      wake?.();
    };
    const poll = async (): Promise<void> => {
      // A job this process runs sends its events; its stored record lags behind them.
      if (this.running.has(id)) return;
      try {
        const stored = await this.deps.jobs.get(id);
        if (stored !== undefined && !seen.has(stored.updatedAt) && latest === undefined) {
          latest = stored;
          seen.add(stored.updatedAt);
        }
      } catch (err) {
        // The next poll tries again; the watcher is not ended by one failed read (logged once per watcher).
        if (!readFailed) {
          this.deps.logger.warn('export job could not be read for a watcher', { jobId: id, error: String(err) });
        }
        readFailed = true;
      }
    };
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      this.watchers.delete(watcher);
      nowIdle();
      this.events.off('job', listener);
      signal?.removeEventListener('abort', stop);
      wake?.();
    };
    // Listen before reading, so no change between the read and the first wait is lost. A change that raced the
    // read may come again: a repeated state is harmless, a lost one is not.
    const watcher = { told, stop, endOnClose: options?.endOnClose === true };
    this.events.on('job', listener);
    this.watchers.add(watcher);
    signal?.addEventListener('abort', stop);
    let first: ExportJobRecord | undefined;
    try {
      first = await this.ownJob(caller, id);
      seen.add(first.updatedAt);
    } catch (err) {
      stop();
      throw err;
    }
    const finish = (): IteratorReturnResult<undefined> => {
      stop();
      return { done: true, value: undefined };
    };
    // What the subscriber was last told: a record that changed nothing it shows (a progress report equal to the last,
    // a write of bookkeeping fields) is not sent again.
    let toldState: string | undefined;
    const shown = (job: ExportJobRecord): string =>
      JSON.stringify([job.status, job.progress, job.startedAt, job.finishedAt, job.error, job.result]);
    const next = async (): Promise<IteratorResult<ExportJobView, undefined>> => {
      if (stopped || ended || signal?.aborted === true) return finish();
      let job: ExportJobRecord;
      if (first !== undefined) {
        job = first;
        first = undefined;
      } else {
        while ((latest === undefined || shown(latest) === toldState) && !stopped) {
          if (latest !== undefined) latest = undefined;
          nowIdle();
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            // Not unref'd: on Lambda a feed waiting for its build may be all that keeps the process running.
            if (this.watchPollMs > 0) timer = setTimeout(() => void poll().finally(resolve), this.watchPollMs);
          });
          clearTimeout(timer);
          wake = undefined;
        }
        if (stopped || latest === undefined) return finish();
        job = latest;
        latest = undefined;
      }
      if (isFinished(job.status)) ended = true;
      toldState = shown(job);
      return { done: false, value: await this.view(job, caller) };
    };
    const iterator: AsyncIterableIterator<ExportJobView> = {
      next,
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Every change of every job, as stored records (for a PubSub bridge); returns the unsubscribe function. */
  onJobUpdated(listener: (job: ExportJobRecord) => void): () => void {
    this.events.on('job', listener);
    return () => this.events.off('job', listener);
  }

  /**
   * The object behind a download link, for the download route (which has verified the link already). Only a
   * SUCCEEDED job's files are served; anything else is NOT_FOUND.
   */
  async resolveDownload(
    jobId: string,
    fileName: string,
  ): Promise<{
    key: string;
    bytes: number;
    fileName: string;
    /** Whose result it is, and what it holds: for a check of the requester's access as it is now. */
    job: Pick<ExportJobRecord, 'requestedBy' | 'dataset' | 'request'>;
  }> {
    const job = this.live.get(jobId) ?? (await this.deps.jobs.get(jobId));
    const succeeded = job !== undefined && statusAt(job, this.now()) === 'SUCCEEDED';
    const file = succeeded ? job.result?.files.find((f) => f.name === fileName) : undefined;
    if (job === undefined || file === undefined) throw new NotFoundError('export file not found');
    return {
      key: file.key,
      bytes: file.bytes,
      fileName: file.name,
      job: { requestedBy: job.requestedBy, dataset: job.dataset, request: job.request },
    };
  }

  /**
   * Whether a job's result is gone by retention (EXPIRED, SUCCEEDED past its expiry, or the job itself forgotten), for
   * the download route:
   * a link to it that has expired is then not worth renewing, as reading the job again gives no link.
   */
  async resultExpired(jobId: string): Promise<boolean> {
    const job = this.live.get(jobId) ?? (await this.deps.jobs.get(jobId));
    // A genuine link names a job that existed: one gone is one retention forgot, long after its result expired.
    return job === undefined || statusAt(job, this.now()) === 'EXPIRED';
  }

  /**
   * At start-up: takes over jobs a previous process left QUEUED or RUNNING. Each is queued again (partial output
   * removed) while it has starts left and its data is unchanged; otherwise it fails, with INTERRUPTED
   * ("interrupted by restart too often: request it again") or DATA_CHANGED. Jobs this process already handles are left alone.
   */
  async recover(): Promise<{ requeued: string[]; failed: string[] }> {
    const found: ExportJobRecord[] = [];
    for await (const job of this.deps.jobs.listAll()) {
      if ((job.status === 'QUEUED' || job.status === 'RUNNING') && !this.live.has(job.id)) found.push(job);
    }
    found.sort((a, b) => compareText(a.createdAt, b.createdAt) || compareText(a.id, b.id));
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const job of found) {
      const fail = async (code: ExportFailureCode, message: string): Promise<void> => {
        await this.removeOutput(job.id);
        // The dead run's partial CSV and staged inputs in the engine's own folder (a new run would clear them).
        await this.deps.engine.discard?.(job.id);
        await this.transition(job.id, (j) => ({
          ...j,
          status: 'FAILED',
          finishedAt: this.now().toISOString(),
          error: { code, message },
        }));
        failed.push(job.id);
      };
      if (job.status === 'RUNNING' && job.attempts >= this.maxAttempts) {
        await fail('INTERRUPTED', INTERRUPTED_TOO_OFTEN);
        continue;
      }
      let plan: ExportPlan;
      try {
        plan = await this.replan(job);
      } catch (err) {
        this.deps.logger.warn('export job could not be re-planned after a restart', {
          jobId: job.id,
          error: describeError(err),
        });
        await fail('DATA_CHANGED', `${INTERRUPTED_BY_RESTART}; the dataset is no longer available`);
        continue;
      }
      let rebase: RecordChange | ExportFailure;
      try {
        rebase = await this.rebasing(job, plan);
      } catch (err) {
        // One job's key that cannot be read now must not stop the recovery of the others.
        this.deps.logger.warn('export job could not be checked against the mask key after a restart', {
          jobId: job.id,
          error: describeError(err),
        });
        await fail('INTERRUPTED', `${INTERRUPTED_BY_RESTART}; the mask key could not be read: request it again`);
        continue;
      }
      if (typeof rebase !== 'function') {
        await fail(rebase.code, `${INTERRUPTED_BY_RESTART}; ${rebase.message}`);
        continue;
      }
      await this.removeOutput(job.id);
      // What the stopped run staged in the engine's own folder (each run stages under a folder of its own).
      await this.deps.engine.discard?.(job.id);
      const queued = await this.transition(job.id, (j) => ({
        ...rebase(j),
        status: 'QUEUED',
        startedAt: null,
        progress: initialProgress(plan),
      }));
      this.deps.logger.info('export job re-queued after a restart', { jobId: job.id, attempts: queued.attempts });
      this.queue.push({ id: job.id, plan });
      requeued.push(job.id);
    }
    this.pump();
    return { requeued, failed };
  }

  /**
   * Runs one job to its end in this process: the entry point of an export worker fed by a queue (SQS dispatch),
   * which may deliver a job more than once, so this is safe to call again for the same job:
   * - a missing or finished job is left alone (`missing`, `done`);
   * - a job whose requester asked to cancel it becomes CANCELLED without running (`done`);
   * - a RUNNING job whose start is younger than the lease, or whose next start another worker claimed within the
   *   lease, is that worker's (`busy`: ask again later);
   * - a RUNNING job whose start is older than the lease lost its worker (a crash, the time limit): it starts again,
   *   partial output removed, while it has starts left, else it fails INTERRUPTED; a job whose data (or, when it
   *   hashes a column, whose mask key) changed since the request fails DATA_CHANGED, as in `recover`.
   * Only the worker whose start claim (JobStore.claimStart) wins runs the engine, so a duplicate delivery never runs
   * a second query. While it runs, a cancel request (`cancelExport` in another process) is polled every
   * `cancelPollMs` and stops the run as a local cancel does. Errors of the store are thrown (the queue retries).
   */
  async runJob(id: string, options: RunJobOptions = {}): Promise<RunJobOutcome> {
    if (this.closed) throw new Error('the export service is closed');
    if (this.running.has(id)) return 'busy';
    // The worker's time left is counted from now: planning a large dataset takes a while, and a stop timed from the
    // engine's start alone would come after the worker's process has been ended.
    const deadline = options.timeLimitMs === undefined ? undefined : Date.now() + options.timeLimitMs;
    for (;;) {
      const job = await this.deps.jobs.get(id);
      if (job === undefined) return 'missing';
      if (isFinished(job.status)) return 'done';
      const now = this.now();
      if (job.status === 'RUNNING' && !this.leaseExpired(job.startedAt, now)) return 'busy';
      if (await this.deps.jobs.cancelRequested(id)) {
        // Not running anywhere (QUEUED, or RUNNING past its lease: its worker stopped): end it with no output.
        if (job.status === 'RUNNING') await this.removeOutput(id);
        await this.transition(id, (j) =>
          isFinished(j.status) ? j : { ...j, status: 'CANCELLED', finishedAt: now.toISOString() },
        );
        return 'done';
      }
      const fail = async (code: ExportFailureCode, message: string): Promise<'done'> => {
        await this.removeOutput(id);
        await this.transition(id, (j) => ({
          ...j,
          status: 'FAILED',
          finishedAt: now.toISOString(),
          error: { code, message },
        }));
        return 'done';
      };
      if (job.attempts >= this.maxAttempts) return fail('INTERRUPTED', INTERRUPTED_TOO_OFTEN);
      let plan: ExportPlan;
      try {
        plan = await this.replan(job);
      } catch (err) {
        // A table gone or a request that no longer fits it ends the job; anything else (a store or catalog error,
        // throttling) is thrown so that the queue delivers the job again.
        if (!(err instanceof NotFoundError) && !(err instanceof BadInputError)) throw err;
        this.deps.logger.warn('export job could not be planned by the worker', { jobId: id, error: err.message });
        return fail('DATA_CHANGED', NO_LONGER_AVAILABLE);
      }
      const rebase = await this.rebasing(job, plan);
      if (typeof rebase !== 'function') return fail(rebase.code, rebase.message);
      const start = job.attempts + 1;
      const claim = await this.deps.jobs.claimStart(id, start, now.toISOString());
      if (!claim.claimed) {
        if (!this.leaseExpired(claim.claimedAt, now)) return 'busy';
        // Whoever claimed this start stopped before running it: the start counts as used; claim the next one.
        await this.deps.jobs.update(id, (j) => ({ ...j, attempts: Math.max(j.attempts, start) }));
        continue;
      }
      // A cancel that landed between the check above and this claim: the loop's next turn ends the job.
      if (await this.deps.jobs.cancelRequested(id)) continue;
      if (plan.dataVersion !== job.dataVersion) {
        // Planned again on the data as it is now, once this worker holds the start (a duplicate delivery that lost
        // the claim must not rewrite the record of the run that won it); a job that ended meanwhile stays as it ended.
        await this.deps.jobs.update(id, (j) => (isFinished(j.status) ? j : rebase(j)));
      }
      if (job.status === 'RUNNING') {
        this.deps.logger.info('export job taken over from a worker that stopped', { jobId: id, attempt: start });
        await this.removeOutput(id);
        // What that worker staged here, when it ran on this host (a Lambda environment used again).
        await this.deps.engine.discard?.(id);
      }
      await this.runHere({ id, plan }, deadline === undefined ? undefined : deadline - Date.now());
      if (await this.deps.jobs.cancelRequested(id)) {
        // The cancel raced the end of the run: the requester was (or is being) told CANCELLED, so no result stays,
        // whichever of the API's CANCELLED and this worker's SUCCEEDED was written last.
        const ended = await this.deps.jobs.get(id);
        if (ended?.status === 'SUCCEEDED' || ended?.status === 'CANCELLED') {
          await this.removeOutput(id);
          await this.transition(id, (j) =>
            j.status === 'SUCCEEDED' || j.status === 'CANCELLED'
              ? { ...j, status: 'CANCELLED', expiresAt: null, result: null }
              : j,
          );
        }
      }
      return 'ran';
    }
  }

  /**
   * Retention before its time, for one of the caller's jobs: a SUCCEEDED job's result is deleted and the job marked
   * EXPIRED (a feed's build that a newer one replaced long enough ago). Any other job is returned as it is.
   */
  async expireNow(caller: ExportCaller, id: string): Promise<ExportJobView> {
    const job = await this.ownJob(caller, id);
    if (job.status !== 'SUCCEEDED') return this.view(job, caller);
    return this.view(await this.expireResult(id), caller);
  }

  /**
   * Retention: deletes the results of jobs that succeeded before `cutoff` and marks them EXPIRED; forgets jobs that
   * ended (any way) more than JOB_HISTORY_DAYS before `cutoff` (JobStore.forget), so that records do not pile up for
   * good and each sweep reads a bounded number of them (on AWS, a lifecycle rule of the exports bucket).
   */
  async expireOlderThan(cutoff: Date): Promise<string[]> {
    const expired: string[] = [];
    for await (const job of this.deps.jobs.listAll()) {
      if (!isFinished(job.status) || job.finishedAt === null) continue;
      const finishedAt = Date.parse(job.finishedAt);
      if (finishedAt < cutoff.getTime() - JOB_HISTORY_DAYS * 24 * 3600 * 1000 && job.status !== 'SUCCEEDED') {
        await this.removeOutput(job.id);
        await this.deps.jobs.forget(job);
        this.live.delete(job.id);
        continue;
      }
      if (job.status !== 'SUCCEEDED' || finishedAt >= cutoff.getTime()) continue;
      await this.expireResult(job.id);
      expired.push(job.id);
    }
    return expired;
  }

  /** Retention with the configured period: what the periodic sweep calls. */
  expireDue(): Promise<string[]> {
    return this.expireOlderThan(new Date(this.now().getTime() - this.retentionMs));
  }

  /** Resolves when no job is queued or running in this process. */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0 || this.queue.length > 0) {
      await Promise.all([...this.running.values()].map((r) => r.done));
    }
  }

  /**
   * Stops taking work for a shutdown: running jobs are stopped and put back to QUEUED (their start not counted),
   * queued ones stay QUEUED; the next process's `recover()` runs them. Then waits (at most WATCHERS_TOLD_MS) until
   * every watcher has handed that state to its consumer, and ends those that asked for it (`endOnClose`): close this
   * before the websockets of subscriptions.
   */
  close(): Promise<void> {
    // Once: the composition closes it before the HTTP server stops, and again with the runtime.
    return (this.closing ??= this.closeOnce());
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    await this.settling;
    for (const r of this.running.values()) r.controller.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
    // Not long: a consumer that stopped reading (a stalled websocket) must not hold the shutdown up.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.watchers].map((w) => w.told())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, WATCHERS_TOLD_MS))),
    ]);
    clearTimeout(timer);
    // No job changes here any more (the next process runs the queued ones): a consumer waiting for a change (a feed
    // fetch waiting for its build) is answered now (a feed: not ready, retry) rather than left to the HTTP server's
    // drain, which drops its connection.
    for (const w of [...this.watchers]) if (w.endOnClose) w.stop();
  }

  /**
   * Stops every job here for good without writing anything about them, because another process has taken them over
   * (the export runner lease was taken: this process looked dead, and the new holder's `recover()` runs its jobs).
   * Unlike `close`, running jobs are not put back to QUEUED, nor failed, nor their output removed: those records and
   * files are the new holder's. The service takes no more work.
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.close();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.queue.length > 0) {
      // A job to run alone waits for the running ones to end, and the queue behind it waits with it (first in,
      // first out); once it runs, nothing starts beside it.
      if (this.queue[0]!.alone === true && this.running.size > 0) return;
      if (this.running.size > 0 && [...this.running.values()].some((r) => r.alone)) return;
      const entry = this.queue.shift()!;
      const controller = new AbortController();
      const done = this.execute(entry, controller.signal)
        .catch((err: unknown) => {
          // Its final record could not be written even after the retries: it is no longer this process's to answer
          // for (a later request runs anew; recover() ends the stored RUNNING record at the next start).
          this.live.delete(entry.id);
          this.deps.logger.error('export worker failed', { jobId: entry.id, error: String(err) });
        })
        .finally(() => {
          this.running.delete(entry.id);
          this.cancelRequested.delete(entry.id);
          this.persistedAt.delete(entry.id);
          this.pump();
        });
      this.running.set(entry.id, { controller, done, alone: entry.alone === true });
    }
  }

  /**
   * Hands a new QUEUED job to the dispatcher and returns its record as it then is: with this process's pool the job
   * is live here; with a queue it runs elsewhere. A job that cannot be handed over fails at once, never waits.
   */
  private async dispatch(job: ExportJobRecord, plan: ExportPlan): Promise<ExportJobRecord> {
    if (this.dispatcher.kind === 'in-process') this.live.set(job.id, job);
    this.emit(job);
    try {
      await this.dispatcher.dispatch({ id: job.id, plan });
      return this.dispatcher.kind === 'in-process' ? job : await this.markSent(job);
    } catch (err) {
      this.deps.logger.error('export job could not be dispatched', { jobId: job.id, error: String(err) });
      return this.transition(job.id, (j) => ({
        ...j,
        status: 'FAILED',
        finishedAt: this.now().toISOString(),
        error: {
          code: 'ENGINE_ERROR',
          message: 'the export could not be handed to an export worker; request it again',
        },
      }));
    }
  }

  /**
   * Records that a queued job's message is in the queue (ExportJobRecord.sentAt). A write that fails is logged and
   * left: the job is in the queue, and a read a minute later only sends it once more.
   */
  private async markSent(job: ExportJobRecord): Promise<ExportJobRecord> {
    const sentAt = this.now().toISOString();
    try {
      return await this.deps.jobs.update(job.id, (j) =>
        j.status === 'QUEUED' && j.sentAt === undefined ? { ...j, sentAt } : j,
      );
    } catch (err) {
      this.deps.logger.warn('could not record that an export job was sent', { jobId: job.id, error: String(err) });
      return job;
    }
  }

  /**
   * Sends a queued job whose message was never sent to the workers, planned as its request was (the worker plans it
   * again, exactly, before it runs it).
   */
  private async resend(job: ExportJobRecord): Promise<ExportJobRecord> {
    this.deps.logger.warn('export job still queued and never sent: sending it to the workers', { jobId: job.id });
    let plan: ExportPlan;
    try {
      plan = await this.planner.plan(await this.table(job.dataset), job.request, this.limits.maxRows);
    } catch (err) {
      // As a worker would end it: its dataset, or the columns it asks for, is gone since the request.
      if (!(err instanceof NotFoundError) && !(err instanceof BadInputError)) throw err;
      return this.changeByRequest(job.id, (j) =>
        j.status === 'QUEUED'
          ? {
              ...j,
              status: 'FAILED',
              finishedAt: this.now().toISOString(),
              error: { code: 'DATA_CHANGED', message: NO_LONGER_AVAILABLE },
            }
          : j,
      );
    }
    return this.dispatch(job, plan);
  }

  /** `runJob`'s run: as a pool worker runs a job, plus a poll for a cancel request made in another process. */
  private async runHere(entry: QueueEntry, timeLimitMs: number | undefined): Promise<void> {
    const controller = new AbortController();
    // Stopped before the worker's time limit ends the process, so the job ends FAILED with its output removed rather
    // than RUNNING until a later delivery takes it over only to hit the same limit again. A limit already reached
    // (planning took the time) stops the run before the engine starts.
    if (timeLimitMs !== undefined && timeLimitMs <= 0) {
      this.timedOut.add(entry.id);
      controller.abort();
    }
    const limit =
      timeLimitMs === undefined || controller.signal.aborted
        ? undefined
        : setTimeout(
            () => {
              this.timedOut.add(entry.id);
              controller.abort();
            },
            Math.max(0, timeLimitMs),
          );
    const watch = setInterval(() => {
      this.deps.jobs.cancelRequested(entry.id).then(
        (asked) => {
          if (!asked || controller.signal.aborted) return;
          this.cancelRequested.add(entry.id);
          controller.abort();
        },
        (err: unknown) =>
          this.deps.logger.warn('could not check for a cancel request', { jobId: entry.id, error: String(err) }),
      );
    }, this.cancelPollMs);
    const done = this.execute(entry, controller.signal);
    this.running.set(entry.id, { controller, done: done.catch(() => undefined) });
    try {
      await done;
    } finally {
      clearInterval(watch);
      if (limit !== undefined) clearTimeout(limit);
      this.timedOut.delete(entry.id);
      this.running.delete(entry.id);
      this.cancelRequested.delete(entry.id);
      this.persistedAt.delete(entry.id);
    }
  }

  /** A QUEUED job recorded longer ago than a queue takes to deliver and a worker to start it. */
  private sendLost(job: ExportJobRecord): boolean {
    return Date.parse(job.createdAt) + QUEUED_RESEND_AFTER_MS <= this.now().getTime();
  }

  private leaseExpired(since: string | null, now: Date): boolean {
    return since === null || Date.parse(since) + this.leaseMs <= now.getTime();
  }

  private async execute(entry: QueueEntry, signal: AbortSignal): Promise<void> {
    // A job that ended meanwhile (cancelled by its requester in another process) is not started again.
    const started = await this.transition(entry.id, (j) =>
      isFinished(j.status)
        ? j
        : { ...j, status: 'RUNNING', startedAt: this.now().toISOString(), attempts: j.attempts + 1 },
    );
    const log = this.deps.logger.child({ jobId: started.id, dataset: started.dataset });
    if (isFinished(started.status)) {
      log.info('export job ended before it started', { status: started.status });
      return;
    }
    log.info('export job started', { attempt: started.attempts });
    const attempt = started.attempts;
    // Every later write is this run's only while the record is still this run's: RUNNING at this attempt. A process
    // that took this one's jobs over (the export runner lease), or a worker that took over a stalled start, restarted
    // the job; what this run would write then is not written, and its output is that run's.
    const ours =
      (change: (j: ExportJobRecord) => ExportJobRecord) =>
      (j: ExportJobRecord): ExportJobRecord =>
        j.status === 'RUNNING' && j.attempts === attempt ? change(j) : j;
    let result: ExportJobResult;
    let job = started;
    let plan = entry.plan;
    for (let rebases = 0; ; rebases++) {
      try {
        // A re-based run is a run of its own for an engine's idempotency tokens (ExportRunJob.rebases).
        result = await this.deps.engine.run(rebases === 0 ? job : { ...job, rebases }, plan, {
          signal,
          onProgress: (p) => this.progress(entry.id, p),
          ownsOutput: async () => {
            if (this.abandoned) return false;
            const now = await this.deps.jobs.get(entry.id);
            // CANCELLED: by its requester during this run, whose partial output goes.
            return (
              now !== undefined && now.attempts === attempt && (now.status === 'RUNNING' || now.status === 'CANCELLED')
            );
          },
        });
        break;
      } catch (err) {
        if (this.abandoned) {
          log.warn('export job left to the process that took this one’s jobs over');
          return;
        }
        let failure = err;
        if (
          err instanceof ExportFailedError &&
          err.code === 'DATA_CHANGED' &&
          rebases < MAX_REBASES &&
          !signal.aborted
        ) {
          const next = await this.rebasedRun(job, log, ours);
          if (next instanceof ExportFailedError) failure = next;
          else if (next !== undefined) {
            ({ job, plan } = next);
            continue;
          }
        }
        await this.endFailedRun({ ...entry, plan }, failure, log, ours);
        return;
      }
    }
    if (this.abandoned) {
      // Finished just as it was taken over: the new holder has restarted the job and owns its record and prefix.
      log.warn('export job finished after it was taken over; the result is left to the new holder');
      return;
    }
    const finishedAt = this.now();
    try {
      // A requester elsewhere may have cancelled it meanwhile (and removed its output): it stays CANCELLED.
      // Not tried in the background: a result that cannot be recorded is removed and the job FAILED below.
      const ended = await this.finalTransition(
        entry.id,
        ours((j) => ({
          ...j,
          status: 'SUCCEEDED',
          finishedAt: finishedAt.toISOString(),
          expiresAt: new Date(finishedAt.getTime() + this.retentionMs).toISOString(),
          result,
          progress: {
            rowsWritten: result.rowCount,
            rowsEstimated: j.progress.rowsEstimated,
            bytesWritten: result.bytes,
            fraction: 1,
          },
        })),
        { background: false },
      );
      if (ended.status === 'SUCCEEDED' && ended.attempts === attempt) {
        log.info('export job succeeded', { rows: result.rowCount, bytes: result.bytes, files: result.files.length });
      } else if (ended.status === 'CANCELLED') {
        log.info('export job cancelled as it finished');
      } else {
        log.warn('export job was restarted elsewhere as it finished; its record is left to that run', {
          status: ended.status,
          attempts: ended.attempts,
        });
      }
    } catch (err) {
      // A write reported as failed may have landed: a record that says SUCCEEDED keeps its files.
      const stored = await this.deps.jobs.get(entry.id).catch(() => undefined);
      if (stored?.status === 'SUCCEEDED' && stored.result !== null) {
        this.live.delete(entry.id);
        this.emit(stored);
        log.info('export job succeeded (its record was written though the store reported an error)');
        return;
      }
      if (stored !== undefined && !(stored.status === 'RUNNING' && stored.attempts === attempt)) {
        log.warn('export job was restarted or ended elsewhere; its record and output are left to that', {
          status: stored.status,
        });
        return;
      }
      // The result is written but its job cannot say so: no file may stay behind a job that does not list it.
      log.error('export job result could not be recorded', { error: String(err) });
      await this.removeOutput(entry.id).catch((e: unknown) =>
        log.error('export job output could not be removed', { error: String(e) }),
      );
      await this.finalTransition(
        entry.id,
        ours((j) => ({
          ...j,
          status: 'FAILED',
          finishedAt: this.now().toISOString(),
          error: { code: 'STORAGE_ERROR', message: 'the export result could not be recorded; request it again' },
        })),
      );
    }
  }

  /**
   * A run whose files changed as it was about to read them (a compaction, an ingest landing just then), planned again
   * on the dataset as it is now, its record re-based (see `rebasing`) and its partial output removed: the job and
   * plan to run again within this start. An ExportFailedError when it may not run any more (its dataset or columns
   * are gone, the mask key changed, the limits); undefined when it cannot be re-planned now (a store or catalog
   * error) or the record is no longer this run's: the run then fails as the engine said.
   */
  private async rebasedRun(
    job: ExportJobRecord,
    log: Logger,
    ours: (change: RecordChange) => RecordChange,
  ): Promise<{ job: ExportJobRecord; plan: ExportPlan } | ExportFailedError | undefined> {
    try {
      let plan: ExportPlan;
      try {
        plan = await this.replan(job);
      } catch (err) {
        if (err instanceof NotFoundError || err instanceof BadInputError) {
          return new ExportFailedError('DATA_CHANGED', NO_LONGER_AVAILABLE, { cause: err });
        }
        throw err;
      }
      const rebase = await this.rebasing(job, plan);
      if (typeof rebase !== 'function') return new ExportFailedError(rebase.code, rebase.message);
      // The record first, fenced: output under the job's prefix is this run's to remove only while the job is.
      const rebased = await this.transition(job.id, ours(rebase));
      if (rebased.status !== 'RUNNING' || rebased.attempts !== job.attempts || this.abandoned) return undefined;
      await this.removeOutput(job.id);
      log.info('export job planned again: its files changed as it was about to read them', {
        dataVersion: plan.dataVersion,
        files: plan.files.length,
      });
      return { job: rebased, plan };
    } catch (err) {
      log.warn('export job could not be planned again on its changed files', { error: String(err) });
      return undefined;
    }
  }

  /** Ends a run whose engine stopped without a result: cancelled, timed out, returned to the queue, or failed. */
  private async endFailedRun(
    entry: QueueEntry,
    err: unknown,
    log: Logger,
    ours: (change: (j: ExportJobRecord) => ExportJobRecord) => (j: ExportJobRecord) => ExportJobRecord,
  ): Promise<void> {
    const finishedAt = this.now().toISOString();
    if (err instanceof ExportCancelledError) {
      if (this.closed && !this.cancelRequested.has(entry.id)) {
        // Stopped by a shutdown, not by its requester: hand it to the next process.
        await this.transition(entry.id, ours(backToQueue(entry.plan)));
        log.info('export job returned to the queue at shutdown');
        return;
      }
      if (this.timedOut.has(entry.id) && !this.cancelRequested.has(entry.id)) {
        const error = {
          code: 'LIMIT_EXCEEDED' as const,
          message:
            "the export did not finish within the export worker's time limit: narrow it (columns, filters, partitions)",
        };
        await this.finalTransition(
          entry.id,
          ours((j) => ({ ...j, status: 'FAILED', finishedAt, error })),
        );
        log.warn('export job stopped at the worker time limit');
        return;
      }
      await this.finalTransition(
        entry.id,
        ours((j) => ({ ...j, status: 'CANCELLED', finishedAt })),
      );
      log.info('export job cancelled');
      return;
    }
    const others = this.running.size - (this.running.has(entry.id) ? 1 : 0);
    if (
      err instanceof ExportFailedError &&
      err.outOfResources &&
      others > 0 &&
      entry.alone !== true &&
      !this.closed &&
      // A cancel that came as the engine failed: the requester is waiting for this run to end, not to start again.
      !this.cancelRequested.has(entry.id) &&
      (await this.queuedToRunAlone(entry, log, ours, others))
    ) {
      return;
    }
    const error =
      err instanceof ExportFailedError
        ? { code: err.code, message: err.message }
        : { code: 'INTERNAL' as const, message: 'the export failed unexpectedly' };
    if (!(err instanceof ExportFailedError)) log.error('export job failed unexpectedly', { error: String(err) });
    else log.warn('export job failed', { code: err.code });
    await this.finalTransition(
      entry.id,
      ours((j) => ({ ...j, status: 'FAILED', finishedAt, error })),
    );
  }

  /**
   * Puts a job that ran out of memory or disk beside `others` back at the head of the queue, to run alone (its start
   * not counted): the engine's memory limit is shared by the jobs it runs, and alone it may not run out. False when it
   * could not be (the record is not this run's any more, or the store refused the write): the run then fails as any
   * other. A cancel or a shutdown that came meanwhile is honoured: CANCELLED, or QUEUED for the next process.
   */
  private async queuedToRunAlone(
    entry: QueueEntry,
    log: Logger,
    ours: (change: (j: ExportJobRecord) => ExportJobRecord) => (j: ExportJobRecord) => ExportJobRecord,
    others: number,
  ): Promise<boolean> {
    let queued: ExportJobRecord;
    try {
      queued = await this.transition(entry.id, ours(backToQueue(entry.plan)));
    } catch (err) {
      log.warn('export job could not be queued again to run alone', { error: String(err) });
      return false;
    }
    if (queued.status !== 'QUEUED') return false;
    // What the failed run left: the next run starts from nothing (a file not removed now is under its prefix, which
    // retention or the next run's removal clears).
    await this.removeOutput(entry.id).catch((err: unknown) =>
      log.warn('export job output could not be removed before its run alone', { error: String(err) }),
    );
    if (this.cancelRequested.has(entry.id)) {
      await this.finalTransition(entry.id, (j) =>
        j.status === 'QUEUED' ? { ...j, status: 'CANCELLED', finishedAt: this.now().toISOString() } : j,
      );
      log.info('export job cancelled');
      return true;
    }
    // Closed meanwhile: the record says QUEUED, and the next process's `recover()` runs it.
    if (this.closed) return true;
    this.queue.unshift({ ...entry, alone: true });
    log.warn('export job ran out of memory or disk beside other jobs: queued again, to run alone', { others });
    return true;
  }

  /**
   * `transition` to a final state, tried again after each of `finalWriteRetryMs` while the store refuses it: a job
   * must not stay RUNNING, nor a result unlisted, because one write failed. Throws the last error, and unless
   * `background` is false keeps trying in the background (`settleLater`).
   */
  private async finalTransition(
    id: string,
    change: (job: ExportJobRecord) => ExportJobRecord,
    options: { background?: boolean } = {},
  ): Promise<ExportJobRecord> {
    for (let attempt = 0; ; attempt++) {
      try {
        const ended = await this.transition(id, change);
        this.unsettled.delete(id);
        return ended;
      } catch (err) {
        const wait = this.finalWriteRetryMs[attempt];
        if (wait === undefined) {
          if (options.background !== false) this.settleLater(id, change);
          throw err;
        }
        this.deps.logger.warn('export job record could not be written; trying again', {
          jobId: id,
          inMs: wait,
          error: String(err),
        });
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * Keeps trying a final record the store refused through every `finalWriteRetryMs` try, every
   * `finalWriteBackgroundMs`, until it lands or the service closes (then `recover()` at the next start ends it). The
   * latest change asked for a job replaces an earlier one (a refused SUCCEEDED becomes the FAILED that follows it).
   */
  private settleLater(id: string, change: (job: ExportJobRecord) => ExportJobRecord): void {
    // Only the run that failed to record its end may end it: not a later run of the job (another worker after the
    // lease, or this one after a redelivery), nor a job a requester cancelled or another process finished since.
    const run = this.live.get(id);
    if (run === undefined || run.status !== 'RUNNING') return;
    const sameRun = (j: ExportJobRecord): boolean =>
      j.status === 'RUNNING' && j.attempts === run.attempts && j.startedAt === run.startedAt;
    this.unsettled.set(id, (j) => (sameRun(j) ? change(j) : j));
    if (this.settleTimer !== undefined || this.closed) return;
    const tick = async (): Promise<void> => {
      for (const [jobId, pending] of [...this.unsettled]) {
        if (this.closed) return;
        try {
          const stored = await this.deps.jobs.get(jobId);
          if (stored === undefined || pending(stored) === stored) {
            // Deleted, or ended or run again by someone else meanwhile: nothing of this run's left to record.
            if (this.unsettled.get(jobId) === pending) this.unsettled.delete(jobId);
            continue;
          }
          await this.transition(jobId, pending);
          if (this.unsettled.get(jobId) === pending) this.unsettled.delete(jobId);
          this.deps.logger.info('export job final record written after the store recovered', { jobId });
        } catch (err) {
          this.deps.logger.warn('export job final record still refused', { jobId, error: String(err) });
        }
      }
    };
    const schedule = (): void => {
      this.settleTimer = setTimeout(() => {
        this.settling = tick().finally(() => {
          this.settling = undefined;
          this.settleTimer = undefined;
          if (!this.closed && this.unsettled.size > 0) schedule();
        });
      }, this.finalWriteBackgroundMs);
      this.settleTimer.unref();
    };
    schedule();
  }

  private progress(id: string, p: EngineProgress): void {
    const job = this.live.get(id);
    if (job === undefined || job.status !== 'RUNNING') return;
    const progress: ExportJobProgress = {
      rowsWritten: p.rowsWritten,
      rowsEstimated: job.progress.rowsEstimated,
      bytesWritten: p.bytesWritten,
      fraction: Math.max(0, Math.min(1, p.fraction)),
    };
    const next = { ...job, progress, updatedAt: this.now().toISOString() };
    this.live.set(id, next);
    this.emit(next);
    const last = this.persistedAt.get(id) ?? 0;
    if (!this.abandoned && Date.now() - last >= this.progressPersistMs) {
      this.persistedAt.set(id, Date.now());
      // A late progress write must never overwrite a finished state, nor a run restarted elsewhere: apply it only to
      // the record of this run.
      this.deps.jobs
        .update(id, (stored) =>
          stored.status === 'RUNNING' && stored.attempts === job.attempts
            ? { ...stored, progress, updatedAt: next.updatedAt }
            : stored,
        )
        .catch((err: unknown) =>
          this.deps.logger.warn('could not persist export progress', { jobId: id, error: String(err) }),
        );
    }
  }

  /** Applies a change to the freshest record, persists it, keeps `live` in step and emits it. */
  private async transition(id: string, change: (job: ExportJobRecord) => ExportJobRecord): Promise<ExportJobRecord> {
    const updated = await this.deps.jobs.update(id, (stored) => {
      const fresh = this.live.get(id);
      const base =
        fresh !== undefined && fresh.status === stored.status ? { ...stored, progress: fresh.progress } : stored;
      const next = change(base);
      // Nothing to change (a fenced change to a run that is not this one's): nothing is written.
      return next === base ? stored : { ...next, updatedAt: this.now().toISOString() };
    });
    if (isFinished(updated.status)) this.live.delete(id);
    else this.live.set(id, updated);
    this.emit(updated);
    return updated;
  }

  /**
   * A change a request makes to a job's record (not its run's): with this process's pool through `transition`, so the
   * live record and its subscribers follow; with a queue straight to the store, since the job runs elsewhere and
   * `live` holds only jobs run here (a record kept there would shadow the worker's).
   */
  private async changeByRequest(id: string, change: RecordChange): Promise<ExportJobRecord> {
    if (this.dispatcher.kind === 'in-process') return this.transition(id, change);
    return this.deps.jobs.update(id, change);
  }

  private emit(job: ExportJobRecord): void {
    this.events.emit('job', job);
  }

  private async ownJob(caller: ExportCaller, id: string): Promise<ExportJobRecord> {
    const job = this.live.get(id) ?? (await this.deps.jobs.get(id));
    // Someone else's job answers exactly as a job that does not exist.
    if (job === undefined || job.requestedBy !== caller.id) throw new NotFoundError(`export "${id}" not found`);
    return job;
  }

  /**
   * The job an idempotency key is bound to, for a request of this hash (ConflictError for another request);
   * undefined when the job is gone (forgotten by retention, or its record expired by a lifecycle rule before the
   * key's binding did), which the key's next request treats as a job that ended without a result.
   */
  private async boundJob(
    binding: { jobId: string; requestHash: string },
    requestHash: string,
  ): Promise<ExportJobRecord | undefined> {
    if (binding.requestHash !== requestHash) {
      throw new ConflictError('idempotencyKey: this key was already used for a different export request');
    }
    const job = this.live.get(binding.jobId) ?? (await this.deps.jobs.get(binding.jobId));
    if (job === undefined) return undefined;
    // The key answers with its job whatever became of it; one whose files are gone says EXPIRED, not SUCCEEDED
    // with links that answer 404.
    if (job.status === 'SUCCEEDED' && !(await this.resultIntact(job))) return this.expireGone(job);
    return job;
  }

  /** A SUCCEEDED job whose result files were removed outside retention, marked EXPIRED (what is left removed). */
  private async expireGone(job: ExportJobRecord): Promise<ExportJobRecord> {
    this.deps.logger.warn('export result files are gone: the job is marked EXPIRED and not reused', { jobId: job.id });
    return this.expireResult(job.id);
  }

  /**
   * Ends a SUCCEEDED job's result (retention, a feed build replaced, files removed by hand): the job is marked EXPIRED
   * first, so that nothing hands the result out once its files start to go, then they are deleted. A job that is no
   * longer SUCCEEDED keeps its state (its files are deleted all the same: it has none to keep).
   */
  private async expireResult(id: string): Promise<ExportJobRecord> {
    const expired = await this.transition(id, (j) => (j.status === 'SUCCEEDED' ? { ...j, status: 'EXPIRED' } : j));
    await this.removeOutput(id);
    return expired;
  }

  private async table(name: string): Promise<TableDefinition> {
    const table = typeof name === 'string' && name !== '' ? await this.deps.catalog.getTable(name) : undefined;
    if (table === undefined) throw new NotFoundError(`dataset "${name}" not found`);
    return table;
  }

  private checkLimits(plan: ExportPlan): void {
    const { estimate, request } = plan;
    if (estimate.bytesToScan > this.limits.maxScanBytes) {
      // Under a row filter the caller is not shown whole-file sizes (the estimate's bytesToScan is null for them):
      // the refusal does not tell it either.
      throw new LimitExceededError(
        request.rowFilter.length > 0
          ? `the export would read more Parquet than the limit of ${this.limits.maxScanBytes} bytes: narrow it with partitions or where`
          : `the export would read ${estimate.bytesToScan} bytes of Parquet, over the limit of ${this.limits.maxScanBytes}: narrow it with partitions or where`,
      );
    }
    // Without filters the footers' row count is exact: refuse rather than cut the result.
    const unfiltered = request.where.length === 0 && request.rowFilter.length === 0;
    if (request.limit === null && unfiltered && estimate.unreadableFiles === 0 && estimate.rows > this.limits.maxRows) {
      throw new LimitExceededError(
        `the export would produce ${estimate.rows} rows, over the limit of ${this.limits.maxRows}: narrow it with partitions or ask for a limit (a where filter is applied while exporting: a filtered result over the limit is cut there and marked truncated)`,
      );
    }
  }

  /**
   * What a job that is about to run must become to run on `plan` (its dataset as it is now): its record re-based on
   * the plan's data version (data version, fingerprint, estimate, progress) when the files changed since the
   * request (a compaction, new or late files), unchanged when they did not; or why it may not run at all: the mask
   * key changed (when it hashes a column: its hashes would not be the ones its request was made under), or on the
   * data as it is now it would pass the limits. Both `recover` and `runJob` ask, and a run whose files changed as it
   * read them; a key that cannot be read is thrown.
   *
   * A re-based job keeps the fingerprint claim it was made under: an identical request on the old data version (a
   * planner that had not seen the change yet) is answered with it, and one on the new version makes a job of its own.
   */
  private async rebasing(job: ExportJobRecord, plan: ExportPlan): Promise<RecordChange | ExportFailure> {
    if (await this.maskKeyChanged(job)) return { code: 'DATA_CHANGED', message: MASK_KEY_CHANGED };
    if (plan.dataVersion === job.dataVersion) return (j) => j;
    try {
      this.checkLimits(plan);
    } catch (err) {
      if (!(err instanceof LimitExceededError)) throw err;
      return { code: 'LIMIT_EXCEEDED', message: `the dataset changed since the request, and ${err.message}` };
    }
    const maskKey = await maskKeyFor(job.request.columns, this.deps.maskKey);
    const fingerprint = exportFingerprint(
      job.request,
      plan.dataVersion,
      maskKey === undefined ? null : maskKeyId(maskKey),
    );
    return (j) => ({
      ...j,
      dataVersion: plan.dataVersion,
      fingerprint,
      estimate: estimateShown(plan, job.grant),
      progress: initialProgress(plan),
    });
  }

  /**
   * Whether a job that hashes a column was requested under another mask key than this process hashes with (the key
   * was changed, and this process started, between the request and the run): run now, its result would carry other
   * hashes than its fingerprint says, and an identical request under the first key would re-use it.
   */
  private async maskKeyChanged(job: ExportJobRecord): Promise<boolean> {
    const key = await maskKeyFor(job.request.columns, this.deps.maskKey);
    if (key === undefined) return false;
    return exportFingerprint(job.request, job.dataVersion, maskKeyId(key)) !== job.fingerprint;
  }

  private async replan(job: ExportJobRecord): Promise<ExportPlan> {
    const table = await this.table(job.dataset);
    // Listed now, not from a kept listing: a change no writer announced must fail the job DATA_CHANGED too.
    const plan = await this.planner.plan(table, job.request, this.limits.maxRows, { exact: true });
    return { ...plan, effectiveLimit: job.effectiveLimit };
  }

  /**
   * Whether a finished job's result is still in the exports bucket, judged by its last part (results are removed
   * whole, by retention or by hand): one request per reuse, whatever the number of parts (feeds reuse on every
   * fetch). A store that does not answer counts as intact: a passing fault must not fail a request for a result that
   * is most likely there.
   */
  private async resultIntact(job: ExportJobRecord): Promise<boolean> {
    const last = job.result?.files.at(-1);
    if (last === undefined) return true;
    try {
      const info = await this.deps.store.head('exports', last.key);
      return info !== undefined && info.size === last.bytes;
    } catch (err) {
      this.deps.logger.warn('could not check that an export result is still there; reusing it', {
        jobId: job.id,
        error: String(err),
      });
      return true;
    }
  }

  private async removeOutput(jobId: string): Promise<void> {
    for (const prefix of exportResultPrefixes(jobId)) {
      for await (const object of this.deps.store.listAll('exports', prefix)) {
        await this.deps.store.delete('exports', object.key);
      }
    }
  }

  /**
   * The job as its requester sees it. Its download links end with its result (retention), and never after the
   * credential `caller` read it with (a token's `exp`): a link must not outlive what let its holder have it.
   */
  private async view(job: ExportJobRecord, caller?: ExportCaller): Promise<ExportJobView> {
    const expiresAt = job.expiresAt === null ? null : new Date(job.expiresAt);
    const credentialEnds = caller === undefined ? undefined : credentialExpiresAt(caller);
    const linksEnd =
      credentialEnds === undefined || (expiresAt !== null && expiresAt.getTime() <= credentialEnds.getTime())
        ? expiresAt
        : credentialEnds;
    const status = statusAt(job, this.now());
    const result =
      job.result === null
        ? null
        : {
            rowCount: job.result.rowCount,
            bytes: job.result.bytes,
            sha256: job.result.sha256,
            truncated: job.result.truncated,
            files: await Promise.all(
              job.result.files.map(async (f) => {
                // Links only for a result that exists: never for failed, cancelled or expired jobs.
                const link =
                  status === 'SUCCEEDED'
                    ? await this.deps.links.issue(
                        { jobId: job.id, fileName: f.name, key: f.key },
                        { notAfter: linksEnd },
                      )
                    : null;
                return {
                  name: f.name,
                  rowCount: f.rowCount,
                  bytes: f.bytes,
                  sha256: f.sha256,
                  url: link?.url ?? null,
                  urlExpiresAt: link?.expiresAt ?? null,
                };
              }),
            ),
          };
    return {
      id: job.id,
      status,
      engine: job.engine,
      dataset: job.dataset,
      request: job.request,
      progress: job.progress,
      estimate: job.estimate,
      requestedBy: job.requestedBy,
      createdAt: new Date(job.createdAt),
      startedAt: job.startedAt === null ? null : new Date(job.startedAt),
      finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt),
      expiresAt,
      error: job.error,
      result,
    };
  }
}

/**
 * The plan's estimate as the requester may be told it: its partitions counted by the partition keys its grant shows
 * in clear (partitionCountShown). Row and byte figures are left to the API layer, which withholds them under a row
 * filter; the service's limits judge the plan's own figures.
 */
function estimateShown(plan: ExportPlan, grant: EffectiveGrant | null): ExportEstimate {
  const partitions = partitionCountShown(grant, plan.table, plan.files, plan.estimate.partitions);
  return partitions === plan.estimate.partitions ? plan.estimate : { ...plan.estimate, partitions };
}

function initialProgress(plan: ExportPlan): ExportJobProgress {
  const rowsEstimated = Math.min(plan.estimate.rows, plan.effectiveLimit ?? Number.POSITIVE_INFINITY);
  return { rowsWritten: 0, rowsEstimated, bytesWritten: 0, fraction: 0 };
}

/** Newest first: inverted creation time, then the id. */
function sortKey(job: ExportJobRecord): string {
  return `${String(9_999_999_999_999 - Date.parse(job.createdAt)).padStart(13, '0')}-${job.id}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
