import { effectiveRun, emptyRunOutcome, RUN_TIMEOUT_MS } from '../domain/run-record.js';
import { holderIsGone } from './holder-process.js';
import DataLoader from 'dataloader';
import { AppError, BadInputError, NotFoundError } from '../domain/errors.js';
import type { EffectiveGrant } from '../domain/export-grant.js';
import type { RunRecord, RunStatus } from '../domain/run-record.js';
import { isCatalogName, type TableDefinition } from '../domain/table.js';
import type { Catalog } from '../ports/catalog.js';
import type { Logger } from '../ports/logger.js';
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';
import type { DatasetRegistry } from './dataset-registry.js';
import type { DatasetFreshness, DatasetLoaders, DatasetService } from './dataset-service.js';
import { runPool } from '../domain/run-pool.js';
import { compareText, type Page, type PageArgs, paginate } from './pagination.js';

/** Where the ETL writes run records in the processed bucket: `<prefix><dataset>/<startedAt>-<runId>.json`. */
export const RUNS_PREFIX = '_pipeline/runs/';
export const RUN_CURSOR_KIND = 'run';
/** Default and largest window of `pipeline`, in hours. */
export const PIPELINE_WINDOW_LIMITS = { defaultHours: 24, maxHours: 24 * 366 } as const;

export const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'];

/** A run record with where it was found. */
export interface RunEntry {
  key: string;
  /** `<startedAt yyyyMMddTHHmmssSSSZ>-<runId>/<dataset>`: newest-first order is descending order of this. */
  sortKey: string;
  record: RunRecord;
}

/** The `runs` loader key for the runs of every dataset (no dataset is named ''). */
export const ALL_DATASETS = '';

export interface PipelineLoaders {
  /** Run records of one dataset, or of all datasets for ALL_DATASETS, newest first. */
  runs: DataLoader<string, RunEntry[]>;
}

export type PipelineHealth = 'HEALTHY' | 'STALE' | 'FAILING' | 'NO_RUNS';

export interface DatasetPipelineStatus {
  dataset: string;
  health: PipelineHealth;
  lastRun: RunRecord | null;
  lastSuccess: RunRecord | null;
  /** The most recently started run that failed: why the dataset is FAILING, when a skipped run came after it. */
  lastFailure: RunRecord | null;
  /** Runs started within the window. */
  runCount: number;
  /** Failed runs started within the window. */
  failureCount: number;
  /** Rows rejected to quarantine files by runs started within the window. */
  rowsQuarantined: number;
  /** Null when the dataset has no catalog table yet (its runs all failed, or it never ran). */
  freshness: DatasetFreshness | null;
}

export interface PipelineStatus {
  windowStart: Date;
  windowEnd: Date;
  datasets: DatasetPipelineStatus[];
}

export interface RunFilter {
  dataset?: string | null | undefined;
  status?: RunStatus | null | undefined;
  /** Only runs started at or after this instant. */
  since?: Date | null | undefined;
}

/**
 * What the caller may see of the pipeline (the access policy, applied by the resolver): which datasets, and each
 * table as a restricted view with its grant (for freshness). Datasets outside it are left out before anything is
 * counted or paginated, and named explicitly they answer as datasets that do not exist.
 */
export interface PipelineScope {
  visible(dataset: string): boolean;
  /**
   * Why the runs of a dataset the caller sees as a dataset are withheld (run records name partitions and files), to
   * answer FORBIDDEN rather than NOT_FOUND; undefined when the caller does not see the dataset at all.
   */
  withheld?(dataset: string): string | undefined;
  /** The table as the caller sees it, its grant, and whether it may see column statistics (`canSeeStats`). */
  view(table: TableDefinition): { table: TableDefinition; grant: EffectiveGrant | null; statistics: boolean };
}

export interface PipelineServiceDeps {
  store: ObjectStore;
  catalog: Catalog;
  datasets: DatasetService;
  logger: Logger;
  registry?: DatasetRegistry;
  clock?: () => Date;
  /** Run records kept in memory (parsed, by key and ETag). Default 50,000. */
  maxCachedRuns?: number;
  /**
   * How often, in ms, a dataset's run records are listed whole; between those listings only the keys of the last
   * `RUN_LISTING_RECENT_MS` are listed (see `listRunKeys`). Default 600,000 (10 minutes); 0 lists whole every time.
   */
  fullListingMs?: number;
  /** Keys one listing request returns (S3: 1,000), to weigh a whole listing against one per dataset. */
  listingPageKeys?: number;
}

/**
 * Run records are keyed by start time within a dataset, and a run ends within minutes (Lambda's limit is 15, and
 * readers report a run still RUNNING after 20 as abandoned): records that started longer ago than this are taken as
 * settled between whole listings, and only newer keys are listed.
 */
export const RUN_LISTING_RECENT_MS = 24 * 3_600_000;

/** Run records read from the store at once when they are not cached. */
const RUN_READ_CONCURRENCY = 32;

/** One dataset's run record keys as last listed: those before `recentFrom` kept, newer ones listed each time. */
interface RunListing {
  settled: ObjectInfo[];
  /** `<prefix><start time>`: the key every recent record sorts after. */
  recentFrom: string;
  listedWholeAt: number;
}

/**
 * Pipeline status from the run records the ETL writes. Records are read once per object version: a listing
 * that finds the same key and ETag reuses the parsed record.
 */
export class PipelineService {
  private readonly cache = new Map<string, { etag: string; record: Promise<RunRecord | undefined> }>();
  private readonly listings = new Map<string, RunListing>();
  /** Datasets found under RUNS_PREFIX by the last whole listing of it, how many keys it had, and when it was. */
  private runDatasets: { names: Set<string>; keys: number; listedAt: number } | undefined;
  private readonly inflight = new Map<string, Promise<ObjectInfo[]>>();
  private readonly clock: () => Date;
  private readonly maxCachedRuns: number;
  private readonly fullListingMs: number;
  private readonly listingPageKeys: number;

  constructor(private readonly deps: PipelineServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.maxCachedRuns = deps.maxCachedRuns ?? 50_000;
    this.fullListingMs = deps.fullListingMs ?? 600_000;
    this.listingPageKeys = Math.max(1, deps.listingPageKeys ?? 1000);
  }

  createLoaders(): PipelineLoaders {
    return {
      runs: new DataLoader<string, RunEntry[]>((datasets) => Promise.all(datasets.map((d) => this.readRuns(d)))),
    };
  }

  /** A page of runs, newest first, of the datasets in scope. */
  async listRuns(args: PageArgs & RunFilter, loaders: PipelineLoaders, scope: PipelineScope): Promise<Page<RunRecord>> {
    const dataset = args.dataset ?? ALL_DATASETS;
    if (dataset !== ALL_DATASETS && (!isCatalogName(dataset) || !scope.visible(dataset))) hidden(dataset, scope);
    let runs = await loaders.runs.load(dataset);
    if (dataset !== ALL_DATASETS && runs.length === 0 && !(await this.isKnown(dataset))) {
      throw new NotFoundError(`dataset "${dataset}" not found`);
    }
    if (dataset === ALL_DATASETS) runs = runs.filter((r) => scope.visible(r.record.dataset));
    if (args.status !== null && args.status !== undefined) {
      const status = args.status;
      runs = runs.filter((r) => r.record.status === status);
    }
    if (args.since !== null && args.since !== undefined) {
      const since = args.since.getTime();
      runs = runs.filter((r) => Date.parse(r.record.startedAt) >= since);
    }
    const page = paginate(runs, (r) => r.sortKey, RUN_CURSOR_KIND, args, undefined, 'desc');
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.record })) };
  }

  /**
   * Runs of a dataset that wrote the given processed keys as they are now, newest first: of the runs that wrote a key,
   * the newest. A source's files are named by its version, so reprocessing it (`--force`, a re-run after a failure)
   * writes the same keys again, over what its earlier run wrote.
   */
  async runsThatWrote(dataset: string, keys: readonly string[], loaders: PipelineLoaders): Promise<RunRecord[]> {
    const unclaimed = new Set(keys);
    const runs = await loaders.runs.load(dataset);
    const out: RunRecord[] = [];
    for (const { record } of runs) {
      const claimed = record.outputKeys.filter((k) => unclaimed.has(k));
      if (claimed.length === 0) continue;
      for (const k of claimed) unclaimed.delete(k);
      out.push(record);
    }
    return out;
  }

  /**
   * Health per dataset in scope: every catalog table, every defined dataset and every dataset with run records.
   */
  async status(
    args: { windowHours?: number | null; dataset?: string | null },
    loaders: PipelineLoaders,
    datasetLoaders: DatasetLoaders,
    scope: PipelineScope,
  ): Promise<PipelineStatus> {
    const hours = args.windowHours ?? PIPELINE_WINDOW_LIMITS.defaultHours;
    if (!Number.isInteger(hours) || hours < 1 || hours > PIPELINE_WINDOW_LIMITS.maxHours) {
      throw new BadInputError(`windowHours must be between 1 and ${PIPELINE_WINDOW_LIMITS.maxHours}; got ${hours}`);
    }
    const end = this.clock();
    const start = new Date(end.getTime() - hours * 3_600_000);
    const tables = await datasetLoaders.tables();
    let names: string[];
    if (args.dataset !== null && args.dataset !== undefined) {
      if (!isCatalogName(args.dataset) || !scope.visible(args.dataset)) hidden(args.dataset, scope);
      const known = tables.some((t) => t.name === args.dataset) || (await loaders.runs.load(args.dataset)).length > 0;
      if (!known && this.deps.registry?.find(args.dataset) === undefined) {
        throw new NotFoundError(`dataset "${args.dataset}" not found`);
      }
      names = [args.dataset];
    } else {
      const all = await loaders.runs.load(ALL_DATASETS);
      const set = new Set<string>([
        ...tables.map((t) => t.name),
        ...(this.deps.registry?.list().map((d) => d.name) ?? []),
        ...all.map((r) => r.record.dataset),
      ]);
      names = [...set].filter((name) => scope.visible(name)).sort(compareText);
      // One listing of every run serves each dataset: no listing per dataset.
      for (const name of names) {
        loaders.runs.prime(
          name,
          all.filter((r) => r.key.startsWith(`${RUNS_PREFIX}${name}/`)),
        );
      }
    }
    const statuses = await Promise.all(
      names.map(async (name): Promise<DatasetPipelineStatus> => {
        const runs = (await loaders.runs.load(name)).map((r) => r.record);
        const table = tables.find((t) => t.name === name);
        const view = table === undefined ? undefined : scope.view(table);
        const freshness =
          view === undefined
            ? null
            : await this.deps.datasets.freshness(view.table, datasetLoaders, view.grant, undefined, view.statistics);
        const inWindow = runs.filter((r) => Date.parse(r.startedAt) >= start.getTime());
        const lastRun = runs[0] ?? null;
        const lastSuccess = runs.find((r) => r.status === 'SUCCEEDED') ?? null;
        const lastFailure = runs.find((r) => r.status === 'FAILED') ?? null;
        const lastFinished = runs.find((r) => r.status !== 'RUNNING' && r.status !== 'SKIPPED');
        let health: PipelineHealth;
        if (lastFinished?.status === 'FAILED') health = 'FAILING';
        else if (freshness?.stale === true) health = 'STALE';
        else if (runs.length === 0) health = 'NO_RUNS';
        else health = 'HEALTHY';
        return {
          dataset: name,
          health,
          lastRun,
          lastSuccess,
          lastFailure,
          runCount: inWindow.length,
          failureCount: inWindow.filter((r) => r.status === 'FAILED').length,
          // Rows of a run that published no quarantine file (it failed no_valid_records) are in no quarantine.
          rowsQuarantined: inWindow.reduce((n, r) => n + (r.quarantineKey !== null ? r.rowsRejected : 0), 0),
          freshness,
        };
      }),
    );
    return { windowStart: start, windowEnd: end, datasets: statuses };
  }

  private async isKnown(dataset: string): Promise<boolean> {
    if (this.deps.registry?.find(dataset) !== undefined) return true;
    return (await this.deps.catalog.getTable(dataset)) !== undefined;
  }

  private async readRuns(dataset: string): Promise<RunEntry[]> {
    const objects = dataset === ALL_DATASETS ? await this.listAllRunKeys() : await this.listRunKeys(dataset);
    const entries: RunEntry[] = [];
    // A run whose process died stays RUNNING in storage; readers show it FAILED (abandoned) after the timeout.
    const now = this.clock();
    const wanted = objects.flatMap((object) => {
      const rest = object.key.slice(RUNS_PREFIX.length);
      const slash = rest.indexOf('/');
      if (slash <= 0 || !rest.endsWith('.json') || rest.indexOf('/', slash + 1) !== -1) return [];
      return [{ object, sortKey: `${rest.slice(slash + 1, -'.json'.length)}/${rest.slice(0, slash)}` }];
    });
    // Records not yet cached are read a bounded number at a time: a first query over tens of thousands of them
    // must not open them all at once (EMFILE on a local store, throttling on S3).
    await runPool(wanted, RUN_READ_CONCURRENCY, async ({ object, sortKey }) => {
      let record: RunRecord | undefined;
      // Asked once: a process that ends between two asks would be shown abandoned without the record read again.
      let gone = false;
      try {
        record = await this.read(object.key, object.etag);
        gone = record?.status === 'RUNNING' && holderIsGone(record.holder);
        if (gone) {
          // Its process is gone: it may have written its final record since the listing (or the cached copy) was
          // made. Read the record as it is now before calling the run abandoned.
          const current = await this.deps.store.head('processed', object.key);
          if (current === undefined) return;
          record = await this.read(object.key, current.etag);
        }
      } catch (err) {
        // Removed since the listing that named it (a remembered one may be minutes old): it is no run now.
        if (err instanceof ObjectNotFoundError) return;
        throw err;
      }
      if (record !== undefined)
        entries.push({ key: object.key, sortKey, record: effectiveRun(record, now, RUN_TIMEOUT_MS, () => gone) });
    });
    return entries.sort((a, b) => compareText(b.sortKey, a.sortKey));
  }

  /**
   * The run record keys of one dataset. Listing them all costs a request per 1,000 keys on S3, and they pile up
   * (one per ingested object): so the keys of records that started more than RUN_LISTING_RECENT_MS ago are kept
   * from the last whole listing, and only the newer ones are listed (`startAfter`). A whole listing runs at least
   * every `fullListingMs`, which also picks up anything older written or removed meanwhile. Requests at the same
   * time share one listing.
   */
  private listRunKeys(dataset: string): Promise<ObjectInfo[]> {
    return this.shared(dataset, async () => {
      const prefix = `${RUNS_PREFIX}${dataset}/`;
      const now = this.clock().getTime();
      const recentFrom = this.recentFrom(dataset, now);
      const known = this.listings.get(dataset);
      const whole =
        known === undefined || now - known.listedWholeAt >= this.fullListingMs || recentFrom < known.recentFrom;
      const listed = await collect(
        this.deps.store.listAll('processed', prefix, whole ? {} : { startAfter: known.recentFrom }),
      );
      const all = whole ? listed : [...known.settled, ...listed];
      this.remember(dataset, all, recentFrom, whole ? now : known.listedWholeAt);
      return all;
    });
  }

  /** The key that the run records started within RUN_LISTING_RECENT_MS of `now` sort after. */
  private recentFrom(dataset: string, now: number): string {
    // The ETL's key: `<prefix><startedAt as yyyyMMddTHHmmssSSSZ>-<runId>.json` (lambda/pipeline/lake-keys.ts).
    const start = new Date(now - RUN_LISTING_RECENT_MS).toISOString().replace(/[-:.]/g, '');
    return `${RUNS_PREFIX}${dataset}/${start}`;
  }

  private remember(dataset: string, all: ObjectInfo[], recentFrom: string, listedWholeAt: number): void {
    const known = this.listings.get(dataset);
    // A listing that started before the one remembered ended after it: keep the newer.
    if (known !== undefined && known.listedWholeAt > listedWholeAt) return;
    // No records, nothing to keep: a name that names nothing (any caller may ask) takes no memory.
    if (all.length === 0) this.listings.delete(dataset);
    else this.listings.set(dataset, { settled: all.filter((o) => o.key <= recentFrom), recentFrom, listedWholeAt });
  }

  /**
   * The run record keys of every dataset: a whole listing of RUNS_PREFIX (which is also each dataset's whole
   * listing) at most every `fullListingMs`, and whenever it takes no more requests than one per dataset would;
   * else each dataset's recent keys (`listRunKeys`) for the datasets with records and the defined ones. A dataset
   * that is neither shows once the next whole listing finds it.
   */
  private listAllRunKeys(): Promise<ObjectInfo[]> {
    return this.shared(ALL_DATASETS, async () => {
      const now = this.clock().getTime();
      const names = new Set([
        ...(this.runDatasets?.names ?? []),
        ...this.listings.keys(),
        ...(this.deps.registry?.list().map((d) => d.name) ?? []),
      ]);
      const cheap =
        this.runDatasets !== undefined && Math.ceil(this.runDatasets.keys / this.listingPageKeys) <= names.size;
      if (this.runDatasets !== undefined && !cheap && now - this.runDatasets.listedAt < this.fullListingMs) {
        return (await Promise.all([...names].map((name) => this.listRunKeys(name)))).flat();
      }
      const all = await collect(this.deps.store.listAll('processed', RUNS_PREFIX));
      const byDataset = new Map<string, ObjectInfo[]>();
      for (const object of all) {
        const rest = object.key.slice(RUNS_PREFIX.length);
        const slash = rest.indexOf('/');
        if (slash <= 0) continue;
        const name = rest.slice(0, slash);
        const objects = byDataset.get(name) ?? [];
        objects.push(object);
        byDataset.set(name, objects);
      }
      for (const name of new Set([...byDataset.keys(), ...this.listings.keys()])) {
        this.remember(name, byDataset.get(name) ?? [], this.recentFrom(name, now), now);
      }
      this.runDatasets = { names: new Set(byDataset.keys()), keys: all.length, listedAt: now };
      return all;
    });
  }

  /** One listing under way per name: callers at the same time share it. */
  private shared(name: string, list: () => Promise<ObjectInfo[]>): Promise<ObjectInfo[]> {
    const running = this.inflight.get(name);
    if (running !== undefined) return running;
    const listing = list().finally(() => this.inflight.delete(name));
    this.inflight.set(name, listing);
    return listing;
  }

  private read(key: string, etag: string): Promise<RunRecord | undefined> {
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.etag === etag) return cached.record;
    const record = this.deps.store.getBytes('processed', key).then(
      (bytes) => parseRunRecord(key, Buffer.from(bytes).toString('utf8'), this.deps.logger),
      (err: unknown) => {
        this.cache.delete(key);
        throw err;
      },
    );
    this.cache.set(key, { etag, record });
    while (this.cache.size > this.maxCachedRuns) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return record;
  }
}

/** Parses a run record; a record that is not one is logged and skipped, never fatal to a status query. */
function parseRunRecord(key: string, text: string, logger: Logger): RunRecord | undefined {
  try {
    const doc = JSON.parse(text) as Partial<RunRecord>;
    if (
      typeof doc.runId !== 'string' ||
      typeof doc.dataset !== 'string' ||
      typeof doc.startedAt !== 'string' ||
      Number.isNaN(Date.parse(doc.startedAt)) ||
      !RUN_STATUSES.includes(doc.status as RunStatus)
    ) {
      throw new Error('missing runId, dataset, startedAt or status');
    }
    return {
      ...emptyRunOutcome(),
      sourceBucket: '',
      sourceKey: '',
      sourceVersion: '',
      ...doc,
    } as RunRecord;
  } catch (err) {
    logger.warn('unreadable run record skipped', { key, error: (err as Error).message });
    return undefined;
  }
}

/** Refuses a dataset named outside the caller's pipeline scope: FORBIDDEN with why when it sees the dataset, else NOT_FOUND. */
function hidden(dataset: string, scope: PipelineScope): never {
  const why = isCatalogName(dataset) ? scope.withheld?.(dataset) : undefined;
  if (why !== undefined) throw new AppError('FORBIDDEN', why);
  throw new NotFoundError(`dataset "${dataset}" not found`);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
