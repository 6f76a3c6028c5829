import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, BadInputError, ConflictError, NotFoundError } from '../domain/errors.js';
import { apiKeyIdOf, credentialExpiresAt } from '../domain/policy.js';
import type { EffectiveGrant, MaskMethod } from '../domain/export-grant.js';
import { canonicalJson } from '../domain/export-fingerprint.js';
import { type ExportCaller, type ExportJobView, isFinished } from '../domain/export-job.js';
import type { CsvOptions, ExportColumn, ExportCompression, ExportRequestInput } from '../domain/export-request.js';
import { FEED_NAME_PATTERN, type FeedOwner, type FeedRecord } from '../domain/feed-record.js';
import type { Logger } from '../ports/logger.js';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';
import { type ExportService, ExportServiceClosedError } from './export-service.js';

/**
 * Processed-bucket prefix of feed definitions: `_system/feeds/<name>.json`, beside the API keys. Definitions are
 * configuration, kept until deleted; the exports bucket holds export jobs, whose S3 lifecycle rules expire them
 * (before they had one rule per prefix, one rule expired the whole bucket, feeds included, after a week).
 */
export const FEEDS_PREFIX = '_system/feeds/';
const FEEDS_BUCKET = 'processed';
/** Where feed definitions were kept before (exports bucket); `migrateLegacyFeeds` moves them. */
export const LEGACY_FEEDS_PREFIX = '_feeds/';
/** Feed read tokens start with this, so that a leaked one is recognisable (and never mistaken for an API key). */
export const FEED_TOKEN_PREFIX = 'cpf_';
/** URL path of feeds: `GET /feeds/<name>.csv`. */
export const FEEDS_PATH = '/feeds';

/**
 * The grant a feed's builds run with: the access policy resolved for the feed's creator on the dataset (null for
 * unrestricted). THE SEAM for access control: until the auth layer supplies one, every feed runs unrestricted, as
 * every anonymous caller does. It may throw an AppError (FORBIDDEN when the creator may no longer export,
 * NOT_FOUND when the dataset is no longer visible to it); the feed then answers with that error.
 */
export type FeedGrantResolver = (owner: FeedOwner, dataset: string) => Promise<EffectiveGrant | null>;

/**
 * Whether a caller authenticated by API key may read a feed. Default: only its creator, as export jobs belong to
 * their requester; the auth layer may widen it (e.g. to admins).
 */
export type FeedReadPolicy = (caller: FeedOwner, feed: FeedRecord) => boolean;

/**
 * Whether the credential a feed was created with still stands; a feed never outlives it (FeedCreatorInvalidError).
 * Checked before every serve and build. Default (no authentication, e.g. tests): every creator stands; the API wires
 * `creatorCredentialCheck`.
 */
export type FeedCreatorCheck = (owner: FeedOwner) => Promise<boolean>;

/** What feeds need of the API key store (ApiKeyStore.isActive). */
export interface FeedKeyLookup {
  /** Whether the key exists and is not revoked, within the store's cache window. */
  isActive(keyId: string): Promise<boolean>;
}

export const UNRESTRICTED_FEED_GRANT: FeedGrantResolver = () => Promise.resolve(null);
export const CREATOR_ONLY: FeedReadPolicy = (caller, feed) => caller.id === feed.createdBy.id;
export const ANY_CREATOR: FeedCreatorCheck = () => Promise.resolve(true);

/**
 * The export a feed build asks for. The engine keeps no row order of its own, so a feed whose request names no order
 * is sorted by its columns shown in clear (masked ones cannot be sorted on): a rebuild of unchanged rows then gives
 * the same bytes and the same ETag, and a BI tool's scheduled refresh downloads nothing.
 *
 * Rows that tie on those columns differ only in masked ones; a redacted column reads the same in every row, but a
 * hashed one does not, and such rows came out in another order at each rebuild (new bytes, a new ETag, a whole
 * download, with no row changed). A feed with a hashed column is therefore sorted next by the other columns its
 * creator sees in clear (the dataset's order), which never reach the file.
 *
 * `visible`: every column the creator sees now, with its mask now (a request naming no columns, normalised under the
 * creator's grant); without it, the masks the feed was created with. A column masked since is then left out of the
 * order rather than failing it (which built the feed unsorted).
 */
export function buildInput(
  feed: Pick<FeedRecord, 'input' | 'request'>,
  visible?: readonly Pick<ExportColumn, 'name' | 'mask'>[],
): ExportRequestInput {
  if ((feed.input.orderBy ?? []).length > 0) return feed.input;
  const now = visible === undefined ? undefined : new Map(visible.map((c) => [c.name, c.mask]));
  const maskOf = (c: Pick<ExportColumn, 'name' | 'mask'>): MaskMethod | null | undefined =>
    now === undefined ? c.mask : now.get(c.name);
  const requested = feed.request.columns;
  const orderBy = requested.filter((c) => maskOf(c) === null).map((c) => ({ column: c.name }));
  if (visible !== undefined && requested.some((c) => maskOf(c) === 'hash')) {
    const named = new Set(requested.map((c) => c.name));
    for (const c of visible) if (c.mask === null && !named.has(c.name)) orderBy.push({ column: c.name });
  }
  return orderBy.length === 0 ? feed.input : { ...feed.input, orderBy };
}

/** Whether a feed build needs its creator's columns as they are now to order its rows (see buildInput). */
function needsVisibleColumns(feed: Pick<FeedRecord, 'input' | 'request'>): boolean {
  return (feed.input.orderBy ?? []).length === 0 && feed.request.columns.some((c) => c.mask === 'hash');
}

/**
 * The creator check of the API (see Authenticator for the ids):
 * - `key:<id>`: the API key must still exist and not be revoked, read through the key store the API authenticates
 *   with, so a revocation (`careplus keys revoke`) stops the feed within the store's cache window (5 s by default),
 *   as it stops the key itself;
 * - `jwt:<subject>`: a JWT cannot be asked about later, so the feed lives as long as the token it was created with:
 *   until that token's `exp` (recorded with the creator's claims); a feed for BI tools that must last is created
 *   with an API key;
 * - anything else (no credential to check): refused.
 */
export function creatorCredentialCheck(keys: FeedKeyLookup, now: () => Date = () => new Date()): FeedCreatorCheck {
  return async (owner) => {
    const keyId = apiKeyIdOf(owner.id);
    if (keyId !== undefined) return keys.isActive(keyId);
    if (owner.id.startsWith('jwt:')) {
      const expires = credentialExpiresAt(owner);
      return expires !== undefined && now().getTime() < expires.getTime();
    }
    return false;
  };
}

export interface FeedServiceDeps {
  store: ObjectStore;
  exports: Pick<
    ExportService,
    'requestExport' | 'normalizeRequest' | 'watchExport' | 'resolveDownload' | 'listExports' | 'expireNow'
  >;
  logger: Logger;
  /** Base URL of the API, read when a feed URL is made (the port may be known only once listening). */
  publicUrl: () => string;
  grantFor?: FeedGrantResolver;
  mayRead?: FeedReadPolicy;
  creatorValid?: FeedCreatorCheck;
  /**
   * Whether a caller administers feeds: lists other callers' feeds (`listFeeds` with `all`) and deletes them, each
   * only where the administrator's own grant would allow the feed's request and filters no rows (`administers`).
   * Default: no one.
   */
  isAdmin?: (caller: FeedOwner) => boolean;
}

export interface FeedServiceOptions {
  /** How long a fetch waits for a build in progress before answering "not ready" (503), in ms. Default 30 000. */
  buildWaitMs?: number;
  /**
   * How long a build a newer one replaced is kept (a client may still be downloading it), in ms, before its result is
   * deleted; at most once per feed in this time, a fetch looks for such builds. Default one hour.
   */
  supersededKeepMs?: number;
  now?: () => Date;
}

/** A feed as the API shows it. */
export interface FeedView {
  name: string;
  dataset: string;
  request: FeedRecord['request'];
  /** The stable URL, without credentials. */
  url: string;
  createdBy: string;
  createdAt: Date;
  tokenIssuedAt: Date;
}

/** Why a feed is refused now, as a fetch would answer: the code and message of the refusal. */
export interface FeedProblem {
  code: string;
  message: string;
}

/** A feed with its read token, shown once: at creation and after a rotation. */
export interface FeedWithToken {
  feed: FeedView;
  token: string;
  /** `url?token=<token>`: what a BI tool is given. */
  tokenUrl: string;
}

/** One part of a feed's current result, in order. */
export interface FeedResultFile {
  name: string;
  key: string;
  bytes: number;
}

/** The finished export a feed serves. */
export interface FeedResult {
  jobId: string;
  /** The export result's checksum: the feed's ETag. */
  sha256: string;
  rowCount: number;
  finishedAt: Date;
  /**
   * Since when the feed serves these bytes (its `Last-Modified`): the build that first gave this checksum. A rebuild
   * after new data that gives the same bytes keeps it, so a client asking `If-Modified-Since` downloads nothing.
   */
  lastModified: Date;
  files: FeedResultFile[];
  compression: ExportCompression;
  csv: Pick<CsvOptions, 'bom' | 'header'>;
  /**
   * The id of the feed's new build while this, its previous one, is served in its place (the data changed and the
   * new build waits behind other exports); null when this is the build of the data as it is now.
   */
  rebuilding: string | null;
}

/** A fetch that presented a feed token which does not open the feed (wrong, rotated, or no such feed). */
export class FeedTokenRejectedError extends AppError {
  constructor() {
    super('FORBIDDEN', 'the feed token is not valid: it may have been rotated; ask the feed owner for the current URL');
    this.name = 'FeedTokenRejectedError';
  }
}

/**
 * The credential the feed was created with was revoked, is unknown or has expired (FeedCreatorCheck): the feed is
 * neither served nor rebuilt. One message whatever the reason.
 */
export class FeedCreatorInvalidError extends AppError {
  constructor() {
    super(
      'FORBIDDEN',
      'the feed is no longer served: the credential it was created with is no longer valid; its owner may create it again',
    );
    this.name = 'FeedCreatorInvalidError';
  }
}

/** The feed's data changed and its new build has not finished within the wait. */
export class FeedNotReadyError extends Error {
  constructor(
    /** The build waited for; null when none could be asked for (the server is shutting down). */
    readonly jobId: string | null,
    readonly retryAfterSeconds: number,
    /** The feed has never had a finished build (a new feed): its first one is still running or waiting. */
    readonly firstBuild = false,
  ) {
    super(
      firstBuild
        ? "the feed's first build has not finished yet: try again shortly"
        : 'the feed is being rebuilt: try again shortly',
    );
    this.name = 'FeedNotReadyError';
  }
}

/** The feed's latest build failed; the next fetch tries again. */
export class FeedBuildFailedError extends Error {
  constructor(
    readonly jobId: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FeedBuildFailedError';
  }
}

/**
 * BI feeds: saved export requests whose latest result is served at a stable URL (`/feeds/<name>.csv`).
 *
 * A fetch asks ExportService for the feed's request again, as the feed's own requester (`feed:<name>`) and with
 * its creator's grant: on unchanged data (same files, same schema version: the export fingerprint's data version)
 * the export service's dedupe answers with the existing job, so nothing runs; after new partitions or a new schema
 * version it starts a new export, and the fetch waits for it (at most `buildWaitMs`). Definitions live in the
 * processed bucket (FEEDS_PREFIX), each with a read token stored only as its SHA-256.
 */
export class FeedService {
  private readonly grantFor: FeedGrantResolver;
  private readonly mayRead: FeedReadPolicy;
  private readonly creatorValid: FeedCreatorCheck;
  private readonly isAdmin: (caller: FeedOwner) => boolean;
  private readonly buildWaitMs: number;
  private readonly supersededKeepMs: number;
  /** When this process last looked for a feed's superseded builds, by feed name. */
  private readonly supersededSweptAt = new Map<string, number>();
  private readonly now: () => Date;

  constructor(
    private readonly deps: FeedServiceDeps,
    options: FeedServiceOptions = {},
  ) {
    this.grantFor = deps.grantFor ?? UNRESTRICTED_FEED_GRANT;
    this.mayRead = deps.mayRead ?? CREATOR_ONLY;
    this.creatorValid = deps.creatorValid ?? ANY_CREATOR;
    this.isAdmin = deps.isAdmin ?? (() => false);
    this.buildWaitMs = options.buildWaitMs ?? 30_000;
    this.supersededKeepMs = options.supersededKeepMs ?? 3_600_000;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Creates a feed and starts its first build. The request is validated (and refused) exactly as `requestExport`
   * would refuse it for the caller. Throws BadInputError (name or request), NotFoundError (dataset),
   * LimitExceededError, the grant's refusals (FORBIDDEN), ConflictError (the name is taken by a feed whose creator's
   * credential stands; a feed whose creator's credential is gone gives its name up). The grant is resolved before
   * the name is looked up, so a caller that may not create this feed never learns whether a name exists.
   */
  async createFeed(caller: FeedOwner, name: string, input: ExportRequestInput): Promise<FeedWithToken> {
    assertFeedName(name);
    const owner: FeedOwner = {
      id: caller.id,
      subject: caller.subject,
      name: caller.name,
      role: caller.role,
      attributes: caller.attributes,
    };
    const request: ExportRequestInput = { ...input, idempotencyKey: null };
    const grant = await this.grantFor(owner, request.dataset);
    const existing = await this.read(name);
    if (existing !== undefined && (await this.creatorValid(existing.createdBy))) {
      throw new ConflictError(`name: a feed named "${name}" exists already`);
    }
    // Validates the request, then starts the first build before anything is removed: the build a fetch will ask
    // for (sorted as buildInput says), so that the first fetch finds it rather than starting another.
    const normalized = await this.deps.exports.normalizeRequest(request, grant);
    const first = await this.requestBuild(feedRequester(name), { input: request, request: normalized }, grant);
    if (existing !== undefined) {
      // Its creator's credential is gone (a revoked key, an expired token): it serves no one, and no one can delete
      // it, so its name is free again. Read once more first, so that a feed another caller has just made in its
      // place is not the one removed (the store has no conditional delete; the window left is that of two reads).
      const again = await this.read(name);
      if (again !== undefined && again.tokenHash !== existing.tokenHash) {
        throw new ConflictError(`name: a feed named "${name}" exists already`);
      }
      await this.deps.store.delete(FEEDS_BUCKET, feedKey(name));
      this.deps.logger.info("feed removed: its creator's credential is no longer valid", { feed: name });
    }
    const token = newFeedToken();
    const now = this.now().toISOString();
    const record: FeedRecord = {
      recordVersion: 1,
      name,
      dataset: first.dataset,
      input: request,
      request: normalized,
      createdBy: owner,
      createdAt: now,
      tokenHash: hashFeedToken(token),
      tokenIssuedAt: now,
    };
    try {
      await this.deps.store.put(FEEDS_BUCKET, feedKey(name), JSON.stringify(record, null, 2), {
        contentType: 'application/json',
        ifNoneMatch: true,
      });
    } catch (err) {
      if (err instanceof ObjectExistsError) throw new ConflictError(`name: a feed named "${name}" exists already`);
      throw err;
    }
    this.deps.logger.info('feed created', { feed: name, dataset: record.dataset, firstJob: first.id });
    return this.withToken(record, token);
  }

  /**
   * The caller's feeds, by name; with `all`, also the other callers' feeds the caller administers (`administers`;
   * for administrators only: FORBIDDEN otherwise).
   */
  async listFeeds(caller: FeedOwner, options: { all?: boolean } = {}): Promise<FeedView[]> {
    const all = options.all === true;
    if (all && !this.isAdmin(caller)) throw new AppError('FORBIDDEN', 'only an administrator may list every feed');
    const feeds: FeedView[] = [];
    for await (const object of this.deps.store.listAll(FEEDS_BUCKET, FEEDS_PREFIX)) {
      const name = nameOfKey(object.key);
      if (name === undefined) continue;
      const record = await this.read(name);
      if (record === undefined) continue;
      if (record.createdBy.id === caller.id || (all && (await this.administers(caller, record)))) {
        feeds.push(this.view(record));
      }
    }
    return feeds.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Why the feed would be refused if fetched now, or null when it would be served: its creator's credential gone,
   * the creator's access to the dataset or to exports withdrawn, the dataset gone, or its request no longer valid
   * (a column dropped since, or masked since where a filter or the order names it; one only exported is served
   * masked). The feed's definition and access are checked, not its data: a build that
   * fails on the data shows on the fetch (503) and on its export job.
   */
  async problem(name: string, createdBy: string): Promise<FeedProblem | null> {
    const record = await this.read(name);
    // Gone, or a feed of that name made since by someone else (the caller listed the one before).
    if (record === undefined || record.createdBy.id !== createdBy) return null;
    try {
      if (!(await this.creatorValid(record.createdBy))) throw new FeedCreatorInvalidError();
      const grant = await this.grantFor(record.createdBy, record.dataset);
      await this.deps.exports.normalizeRequest(record.input, grant);
      return null;
    } catch (err) {
      if (err instanceof AppError) return { code: err.code, message: err.message };
      throw err;
    }
  }

  /**
   * Deletes one of the caller's feeds, or another caller's feed the caller administers (`administers`); its URL and
   * token stop working at once. Any other feed is NOT_FOUND.
   */
  async deleteFeed(caller: FeedOwner, name: string): Promise<void> {
    const record = await this.ownFeed(caller, name, { administered: true });
    await this.deps.store.delete(FEEDS_BUCKET, feedKey(record.name));
    await this.deps.store.delete(FEEDS_BUCKET, feedContentKey(record.name));
    this.deps.logger.info('feed deleted', { feed: name });
  }

  /**
   * Issues a new read token for one of the caller's feeds; the previous token is refused from now on. Never for
   * another caller's feed, administrator or not: the token reads the feed with its creator's grant, which may show
   * what the administrator's own grant does not (an administrator deletes a leaked feed instead).
   */
  async rotateToken(caller: FeedOwner, name: string): Promise<FeedWithToken> {
    const record = await this.ownFeed(caller, name);
    const token = newFeedToken();
    const rotated: FeedRecord = { ...record, tokenHash: hashFeedToken(token), tokenIssuedAt: this.now().toISOString() };
    await this.deps.store.put(FEEDS_BUCKET, feedKey(name), JSON.stringify(rotated, null, 2), {
      contentType: 'application/json',
    });
    this.deps.logger.info('feed token rotated', { feed: name });
    return this.withToken(rotated, token);
  }

  /** The feed a read token opens; FeedTokenRejectedError for any token that does not (no oracle on names). */
  async authorizeToken(name: string, token: string): Promise<FeedRecord> {
    const record = FEED_NAME_PATTERN.test(name) ? await this.read(name) : undefined;
    if (record === undefined || !tokenMatches(record.tokenHash, token)) throw new FeedTokenRejectedError();
    return record;
  }

  /** The feed for a caller authenticated by API key (see FeedReadPolicy); NOT_FOUND when it may not read it. */
  async authorizeCaller(caller: FeedOwner, name: string): Promise<FeedRecord> {
    const record = FEED_NAME_PATTERN.test(name) ? await this.read(name) : undefined;
    if (record === undefined || !this.mayRead(caller, record)) throw new NotFoundError(`feed "${name}" not found`);
    return record;
  }

  /**
   * Asks for the feed's build: sorted as `buildInput` says, or as the feed was defined when that order no longer
   * validates (a column of it masked, hidden or dropped since the feed was made: the order is the service's, not
   * the creator's, and must never fail a feed the creator's own request still builds).
   */
  private async requestBuild(
    requester: ExportCaller,
    feed: Pick<FeedRecord, 'input' | 'request'>,
    grant: EffectiveGrant | null,
  ): Promise<ExportJobView> {
    const visible = needsVisibleColumns(feed) ? await this.visibleColumns(feed, grant) : undefined;
    const sorted = buildInput(feed, visible);
    try {
      return await this.deps.exports.requestExport(requester, sorted, grant);
    } catch (err) {
      if (sorted === feed.input || !(err instanceof BadInputError)) throw err;
      if (visible === undefined) {
        // A column of the order masked, hidden or dropped since the feed was made: sorted by the columns clear now.
        const resorted = buildInput(feed, await this.visibleColumns(feed, grant));
        if (resorted !== feed.input) {
          try {
            return await this.deps.exports.requestExport(requester, resorted, grant);
          } catch (again) {
            if (!(again instanceof BadInputError)) throw again;
          }
        }
      }
      return this.deps.exports.requestExport(requester, feed.input, grant);
    }
  }

  /** Every column the feed's creator sees now, with its mask: a request naming no columns, normalised under the grant. */
  private async visibleColumns(feed: Pick<FeedRecord, 'input'>, grant: EffectiveGrant | null): Promise<ExportColumn[]> {
    return (await this.deps.exports.normalizeRequest({ dataset: feed.input.dataset }, grant)).columns;
  }

  /**
   * The feed's current result: the finished export of its request on the data as it is now. Rebuilds when the
   * data changed and waits for the build (FeedNotReadyError past `options.buildWaitMs`, default the service's
   * `buildWaitMs`); FeedBuildFailedError when the build failed. AppErrors of the request (dataset gone, a column no
   * longer there, the grant refused) pass through. FeedCreatorInvalidError, before anything is built, when the
   * credential the feed was created with no longer stands (FeedCreatorCheck).
   */
  async latestResult(feed: FeedRecord, options: { buildWaitMs?: number } = {}): Promise<FeedResult> {
    if (!(await this.creatorValid(feed.createdBy))) {
      this.deps.logger.info('feed refused: the credential it was created with is no longer valid', {
        feed: feed.name,
        creator: feed.createdBy.id,
      });
      throw new FeedCreatorInvalidError();
    }
    const grant = await this.grantFor(feed.createdBy, feed.dataset);
    const requester = feedRequester(feed.name);
    let job: ExportJobView;
    try {
      job = await this.requestBuild(requester, feed, grant);
    } catch (err) {
      // The server is shutting down: the next process builds the feed.
      if (err instanceof ExportServiceClosedError) throw new FeedNotReadyError(null, 5);
      throw err;
    }
    let rebuilding: string | null = null;
    if (!isFinished(job.status)) {
      this.deps.logger.info('feed waits for its build', { feed: feed.name, jobId: job.id });
      try {
        job = await this.waitFor(requester, job, options.buildWaitMs ?? this.buildWaitMs);
      } catch (err) {
        if (!(err instanceof FeedNotReadyError)) throw err;
        // A build behind other exports in the queue would refuse the feed until it ran: the previous build of the
        // same request (the same columns, masks and row filter: nothing the creator may not see now) is served
        // meanwhile, said so in `rebuilding`. With none, the fetch is refused NOT_READY as before.
        const previous = await this.previousBuild(requester, job);
        if (previous === undefined) {
          // A new feed has no earlier build at all: saying it is "being rebuilt" would send its owner looking for one.
          const built = await this.deps.exports.listExports(requester, { status: 'SUCCEEDED', first: 1 });
          throw built.edges.length === 0 ? new FeedNotReadyError(err.jobId, err.retryAfterSeconds, true) : err;
        }
        this.deps.logger.info('feed served from its previous build while the new one waits', {
          feed: feed.name,
          jobId: job.id,
          servedJobId: previous.id,
        });
        rebuilding = job.id;
        job = previous;
      }
    }
    if (job.status !== 'SUCCEEDED' || job.result === null || job.finishedAt === null) {
      throw new FeedBuildFailedError(
        job.id,
        job.error?.code ?? job.status,
        job.error?.message ?? `the feed's latest build ended ${job.status}`,
      );
    }
    if (rebuilding === null) this.dropSupersededLater(feed.name, requester, job);
    const files = await Promise.all(
      job.result.files.map(async (f) => {
        const found = await this.deps.exports.resolveDownload(job.id, f.name);
        return { name: f.name, key: found.key, bytes: found.bytes };
      }),
    );
    return {
      jobId: job.id,
      sha256: job.result.sha256,
      rowCount: job.result.rowCount,
      finishedAt: job.finishedAt,
      lastModified: await this.contentSince(feed.name, job.result.sha256, job.finishedAt),
      files,
      compression: job.request.compression,
      csv: { bom: job.request.csv.bom, header: job.request.csv.header },
      rebuilding,
    };
  }

  /**
   * Deletes, in the background, the results of the feed's builds that a newer build replaced more than
   * `supersededKeepMs` ago (only the latest build is ever served, and each is a whole copy of the feed: an hourly feed kept a week of
   * them until export retention). At most once per feed per `supersededKeepMs` in this process; a failure is logged.
   */
  private dropSupersededLater(name: string, requester: ExportCaller, served: ExportJobView): void {
    const now = this.now().getTime();
    const last = this.supersededSweptAt.get(name);
    if (last !== undefined && now - last < this.supersededKeepMs) return;
    this.supersededSweptAt.set(name, now);
    void (async () => {
      // Newest first: a build goes once the build after it (which replaced it) finished `supersededKeepMs` ago.
      const page = await this.deps.exports.listExports(requester, { status: 'SUCCEEDED', first: 100 });
      const builds = page.edges.map((e) => e.node).filter((j) => j.finishedAt !== null);
      for (const [i, node] of builds.entries()) {
        const replacedAt = builds[i - 1]?.finishedAt?.getTime();
        if (i === 0 || node.id === served.id || replacedAt === undefined) continue;
        if (now - replacedAt < this.supersededKeepMs) continue;
        await this.deps.exports.expireNow(requester, node.id);
        this.deps.logger.info('feed build replaced by a newer one removed', { feed: name, jobId: node.id });
      }
    })().catch((err: unknown) =>
      this.deps.logger.warn('feed builds replaced by newer ones could not be removed', {
        feed: name,
        error: String(err),
      }),
    );
  }

  /**
   * The newest finished build of the feed with exactly `building`'s request (normalised: columns, masks, row filter,
   * CSV options), whose result is still there; undefined when there is none.
   */
  private async previousBuild(requester: ExportCaller, building: ExportJobView): Promise<ExportJobView | undefined> {
    // A column hashed under the mask key: an earlier build may be hashed under a key since replaced (it leaked), which
    // the request does not show; only the new build is served.
    if (building.request.columns.some((c) => c.mask === 'hash')) return undefined;
    const wanted = canonicalJson(building.request);
    const page = await this.deps.exports.listExports(requester, { status: 'SUCCEEDED', first: 20 });
    return page.edges
      .map((e) => e.node)
      .find((j) => j.id !== building.id && j.result !== null && canonicalJson(j.request) === wanted);
  }

  /**
   * Moves feed definitions from where earlier versions kept them (exports bucket, `_feeds/`) to FEEDS_PREFIX, once, at
   * start-up of the embedded server (the AWS deployment served no feeds before they moved); a definition already at
   * the new place wins, one this version cannot read stays where it is. Returns the names moved.
   */
  async migrateLegacyFeeds(): Promise<string[]> {
    const moved: string[] = [];
    for await (const object of this.deps.store.listAll('exports', LEGACY_FEEDS_PREFIX)) {
      const name = nameOfKey(object.key, LEGACY_FEEDS_PREFIX);
      if (name === undefined) continue;
      let bytes: Uint8Array;
      try {
        bytes = await this.deps.store.getBytes('exports', object.key);
      } catch (err) {
        // Moved by another process since the listing.
        if (err instanceof ObjectNotFoundError) continue;
        throw err;
      }
      const record = parseRecord(bytes);
      if (record === undefined || record.name !== name) {
        // Not a definition this version can read: left where it is, for someone to look at.
        this.deps.logger.warn('feed definition left in place: not a readable definition of that name', {
          key: object.key,
        });
        continue;
      }
      try {
        await this.deps.store.put(FEEDS_BUCKET, feedKey(name), bytes, {
          contentType: 'application/json',
          ifNoneMatch: true,
        });
        moved.push(name);
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
      await this.deps.store.delete('exports', object.key).catch((err: unknown) => {
        if (!(err instanceof ObjectNotFoundError)) throw err;
      });
    }
    if (moved.length > 0) this.deps.logger.info('feed definitions moved to their new place', { feeds: moved });
    return moved;
  }

  /** The feed's URL (without credentials). */
  feedUrl(name: string): string {
    return `${this.deps.publicUrl()}${FEEDS_PATH}/${name}.csv`;
  }

  private async waitFor(requester: ExportCaller, job: ExportJobView, waitMs: number): Promise<ExportJobView> {
    if (waitMs <= 0) throw new FeedNotReadyError(job.id, 5);
    const signal = AbortSignal.timeout(waitMs);
    // Ended when the export service closes for a shutdown: the build then waits for the next process.
    const updates = await this.deps.exports.watchExport(requester, job.id, { signal, endOnClose: true });
    let latest = job;
    try {
      for await (const update of updates) {
        latest = update;
        if (isFinished(update.status)) return update;
      }
    } finally {
      await updates.return?.();
    }
    throw new FeedNotReadyError(latest.id, 5);
  }

  /**
   * The caller's feed by name; with `administered`, also another caller's feed the caller administers. Any other
   * feed answers exactly as one that does not exist.
   */
  private async ownFeed(
    caller: FeedOwner,
    name: string,
    options: { administered?: boolean } = {},
  ): Promise<FeedRecord> {
    const record = FEED_NAME_PATTERN.test(name) ? await this.read(name) : undefined;
    if (record !== undefined && record.createdBy.id === caller.id) return record;
    if (record !== undefined && options.administered === true && (await this.administers(caller, record))) {
      return record;
    }
    throw new NotFoundError(`feed "${name}" not found`);
  }

  /**
   * Whether `caller` administers another caller's feed: an administrator whose own grant would allow the feed's
   * request (the dataset visible to them, every column, filter and order of it allowed) and limits no rows. The
   * `admin` capability alone grants no data: a feed on a dataset, column or row the administrator may not see stays
   * hidden from them.
   */
  private async administers(caller: FeedOwner, record: FeedRecord): Promise<boolean> {
    if (!this.isAdmin(caller)) return false;
    try {
      const grant = await this.grantFor(caller, record.dataset);
      // A row filter is folded into a request, never refused by it: an administrator limited to some rows would see
      // (and delete) feeds on rows hidden from them, their filter values included. Such an administrator manages
      // only their own feeds.
      if (grant !== null && grant.rowFilter.length > 0) return false;
      // With the columns the feed reads named: a request without `columns` reads every column its creator sees (the
      // request `feeds` shows names them all), not the administrator's own default.
      const columns = record.input.columns ?? record.request.columns.map((c) => c.name);
      await this.deps.exports.normalizeRequest({ ...record.input, columns }, grant);
      return true;
    } catch (err) {
      if (err instanceof AppError) return false;
      throw err;
    }
  }

  /**
   * When the feed first served the bytes of this checksum: kept beside its definition (a separate object, so that
   * writing it never races a token rotation), replaced when the bytes change. A stamp that cannot be read or written
   * only costs a client one download: the build's own time is used.
   */
  private async contentSince(name: string, sha256: string, builtAt: Date): Promise<Date> {
    const key = feedContentKey(name);
    let previous: number | undefined;
    try {
      const stamp = JSON.parse(Buffer.from(await this.deps.store.getBytes(FEEDS_BUCKET, key)).toString('utf8')) as {
        sha256?: unknown;
        since?: unknown;
      };
      const since = typeof stamp.since === 'string' ? Date.parse(stamp.since) : Number.NaN;
      if (!Number.isNaN(since)) {
        if (stamp.sha256 === sha256) return new Date(since);
        previous = since;
      }
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) {
        this.deps.logger.warn('feed content stamp unreadable', { feed: name, error: String(err) });
      }
    }
    // New bytes are new to the clients now, whenever the job that made them ran: a feed that went back to an earlier
    // result (a policy changed and changed back) reuses that job, and its old finish time would be older than the
    // Last-Modified clients already hold, so If-Modified-Since answered 304 over changed bytes. HTTP dates count
    // whole seconds: the new time is at least a second past the previous one.
    const since = new Date(
      Math.max(
        builtAt.getTime(),
        this.now().getTime(),
        previous === undefined ? 0 : Math.floor(previous / 1000) * 1000 + 1000,
      ),
    );
    try {
      await this.deps.store.put(FEEDS_BUCKET, key, JSON.stringify({ sha256, since: since.toISOString() }), {
        contentType: 'application/json',
      });
    } catch (err) {
      this.deps.logger.warn('feed content stamp not written', { feed: name, error: String(err) });
    }
    return since;
  }

  private async read(name: string): Promise<FeedRecord | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await this.deps.store.getBytes(FEEDS_BUCKET, feedKey(name));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
    const record = parseRecord(bytes);
    if (record === undefined) throw new Error(`feed "${name}" has an unknown record version`);
    return record;
  }

  private view(record: FeedRecord): FeedView {
    return {
      name: record.name,
      dataset: record.dataset,
      request: record.request,
      url: this.feedUrl(record.name),
      createdBy: record.createdBy.id,
      createdAt: new Date(record.createdAt),
      tokenIssuedAt: new Date(record.tokenIssuedAt),
    };
  }

  private withToken(record: FeedRecord, token: string): FeedWithToken {
    const feed = this.view(record);
    return { feed, token, tokenUrl: `${feed.url}?token=${encodeURIComponent(token)}` };
  }
}

/** A stored feed definition of this version, or undefined for anything else. */
function parseRecord(bytes: Uint8Array): FeedRecord | undefined {
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof record === 'object' && record !== null && (record as FeedRecord).recordVersion === 1
    ? (record as FeedRecord)
    : undefined;
}

/** The requester a feed's export jobs belong to: the feed itself, so its builds never mix with a person's jobs. */
export function feedRequester(name: string): ExportCaller {
  return { id: `feed:${name}` };
}

export function feedKey(name: string): string {
  return `${FEEDS_PREFIX}${name}.json`;
}

/** Where a feed's content stamp is kept (see contentSince); no feed name has a `/`, so listings pass it over. */
function feedContentKey(name: string): string {
  return `${FEEDS_PREFIX}content/${name}.json`;
}

/** The feed name of a definition's key under `prefix`, or undefined for any other key. */
function nameOfKey(key: string, prefix = FEEDS_PREFIX): string | undefined {
  const name = key.slice(prefix.length).replace(/\.json$/, '');
  return key.endsWith('.json') && FEED_NAME_PATTERN.test(name) ? name : undefined;
}

function assertFeedName(name: string): void {
  if (typeof name !== 'string' || !FEED_NAME_PATTERN.test(name)) {
    throw new BadInputError(
      `name: ${JSON.stringify(name)} is not a feed name: 1 to 64 lower-case letters, digits, "_" or "-", starting with a letter or digit`,
    );
  }
}

/** 32 random bytes, base64url, prefixed. */
export function newFeedToken(): string {
  return FEED_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashFeedToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function tokenMatches(storedHash: string, token: string): boolean {
  const given = Buffer.from(hashFeedToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}
