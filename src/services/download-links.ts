import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DownloadLink, DownloadLinkIssuer, DownloadTarget } from '../ports/download-links.js';

/** Default lifetime of a download link: one hour. */
export const DEFAULT_LINK_TTL_SECONDS = 3600;
/** Where the API serves downloads: `/downloads/<job-id>/<file>?expires=<unix seconds>&sig=<signature>`. */
export const DOWNLOADS_PATH = '/downloads';

/** A link whose signature does not match: altered, truncated or made up. */
export class DownloadLinkInvalidError extends Error {
  constructor(message = 'the download link is not valid') {
    super(message);
    this.name = 'DownloadLinkInvalidError';
  }
}

/** A genuine link past its expiry; the client gets a fresh one by reading the job again. */
export class DownloadLinkExpiredError extends Error {
  readonly expiredAt: Date;
  constructor(expiredAt: Date) {
    super('the download link has expired: read the export job again for a fresh link');
    this.name = 'DownloadLinkExpiredError';
    this.expiredAt = expiredAt;
  }
}

export interface HmacDownloadLinksOptions {
  /** At least 32 bytes; every link signed with it is void once it changes. */
  secret: string | Uint8Array;
  /** The API's public base URL, e.g. `https://careplus.example.com` (no trailing slash needed). */
  baseUrl: string;
  ttlSeconds?: number;
  now?: () => Date;
}

/**
 * Download links for the local store: the API serves `/downloads/<job-id>/<file>`, and the link carries its
 * expiry and an HMAC-SHA256 of (job, file, expiry), so it needs no state and cannot be altered or extended.
 * Verification compares signatures in constant time and tells a tampered link from an expired one.
 */
export class HmacDownloadLinks implements DownloadLinkIssuer {
  private readonly secret: Buffer;
  private readonly baseUrl: string;
  private readonly ttlSeconds: number;
  private readonly now: () => Date;

  constructor(options: HmacDownloadLinksOptions) {
    this.secret =
      typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (this.secret.length < 32) throw new Error('the download link secret must be at least 32 bytes');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_LINK_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1)
      throw new Error('ttlSeconds must be a positive integer');
    this.now = options.now ?? (() => new Date());
  }

  issue(target: DownloadTarget, options?: { notAfter?: Date | null }): Promise<DownloadLink> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    let expires = nowSeconds + this.ttlSeconds;
    const notAfter = options?.notAfter;
    if (notAfter !== null && notAfter !== undefined)
      expires = Math.max(nowSeconds + 1, Math.min(expires, Math.floor(notAfter.getTime() / 1000)));
    const sig = this.sign(target.jobId, target.fileName, expires);
    const path = `${DOWNLOADS_PATH}/${encodeURIComponent(target.jobId)}/${encodeURIComponent(target.fileName)}`;
    return Promise.resolve({
      url: `${this.baseUrl}${path}?expires=${expires}&sig=${sig}`,
      expiresAt: new Date(expires * 1000),
    });
  }

  /**
   * Checks a link's parts as the download route receives them (path parameters decoded). Throws
   * DownloadLinkInvalidError or DownloadLinkExpiredError; returns nothing when the link is good.
   */
  verify(parts: { jobId: string; fileName: string; expires: unknown; sig: unknown }): void {
    const { jobId, fileName, expires, sig } = parts;
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) throw new DownloadLinkInvalidError();
    if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(sig)) throw new DownloadLinkInvalidError();
    // The texts are compared, not the decoded bytes: base64url's last character carries 2 spare bits, so four
    // spellings decode to the same signature, and only the one this class writes is the link.
    const expected = Buffer.from(this.sign(jobId, fileName, Number(expires)), 'ascii');
    const given = Buffer.from(sig, 'ascii');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new DownloadLinkInvalidError();
    const expiresAt = new Date(Number(expires) * 1000);
    if (this.now().getTime() >= expiresAt.getTime()) throw new DownloadLinkExpiredError(expiresAt);
  }

  /** `verify` for a whole URL (or path and query) of the form this class issues; returns the job and file. */
  verifyUrl(url: string | URL): { jobId: string; fileName: string } {
    const parsed = typeof url === 'string' ? new URL(url, 'http://localhost') : url;
    const m = new RegExp(`^${DOWNLOADS_PATH}/([^/]+)/([^/]+)$`).exec(parsed.pathname);
    if (!m) throw new DownloadLinkInvalidError();
    let jobId: string;
    let fileName: string;
    try {
      jobId = decodeURIComponent(m[1]!);
      fileName = decodeURIComponent(m[2]!);
    } catch {
      throw new DownloadLinkInvalidError();
    }
    this.verify({
      jobId,
      fileName,
      expires: parsed.searchParams.get('expires') ?? undefined,
      sig: parsed.searchParams.get('sig') ?? undefined,
    });
    return { jobId, fileName };
  }

  private sign(jobId: string, fileName: string, expires: number): string {
    return createHmac('sha256', this.secret)
      .update(`careplus-download:v1\n${jobId}\n${fileName}\n${expires}`, 'utf8')
      .digest('base64url');
  }
}
