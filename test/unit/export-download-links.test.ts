import {
  DownloadLinkExpiredError,
  DownloadLinkInvalidError,
  HmacDownloadLinks,
} from '../../src/services/download-links.js';

const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
const target = { jobId: 'job-1', fileName: 'part-00000.csv.gz', key: 'job-1/part-00000.csv.gz' };

function links(nowMs: number, ttlSeconds?: number): HmacDownloadLinks {
  return new HmacDownloadLinks({
    secret,
    baseUrl: 'http://api.test/',
    now: () => new Date(nowMs),
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('HmacDownloadLinks', () => {
  const t0 = Date.parse('2024-05-01T10:00:00Z');

  it('issues a link to /downloads that expires after one hour by default, and accepts it', async () => {
    const link = await links(t0).issue(target);
    expect(link.expiresAt.toISOString()).toBe('2024-05-01T11:00:00.000Z');
    expect(link.url).toMatch(
      /^http:\/\/api\.test\/downloads\/job-1\/part-00000\.csv\.gz\?expires=1714561200&sig=[A-Za-z0-9_-]{43}$/,
    );
    expect(links(t0 + 3599_000).verifyUrl(link.url)).toEqual({ jobId: 'job-1', fileName: 'part-00000.csv.gz' });
  });

  it('never issues a link that outlives the result', async () => {
    const link = await links(t0).issue(target, { notAfter: new Date(t0 + 60_000) });
    expect(link.expiresAt.toISOString()).toBe('2024-05-01T10:01:00.000Z');
  });

  it('refuses an expired link with DownloadLinkExpiredError', async () => {
    const link = await links(t0).issue(target);
    const err = thrown(() => links(t0 + 3600_000).verifyUrl(link.url));
    expect(err).toBeInstanceOf(DownloadLinkExpiredError);
    expect((err as DownloadLinkExpiredError).expiredAt.toISOString()).toBe('2024-05-01T11:00:00.000Z');
  });

  it('refuses a tampered link with DownloadLinkInvalidError: extended expiry, other file, other job, bad signature', async () => {
    const url = new URL((await links(t0).issue(target)).url);
    const variants = [
      url.href.replace('expires=1714561200', 'expires=1914561200'),
      url.href.replace('part-00000', 'part-00001'),
      url.href.replace('/job-1/', '/job-2/'),
      url.href.replace(/sig=./, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A')),
      url.href.replace(/&sig=.*$/, ''),
      url.href.replace(/sig=.*$/, 'sig=short'),
    ];
    for (const v of variants) expect(thrown(() => links(t0).verifyUrl(v))).toBeInstanceOf(DownloadLinkInvalidError);
  });

  it("refuses every other spelling of the signature's last character, though it decodes to the same bytes", async () => {
    const url = new URL((await links(t0).issue(target)).url);
    const sig = url.searchParams.get('sig')!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 32 bytes in 43 characters: the last one carries 4 bits and 2 spare ones, so 3 others decode the same.
    const sameBytes = [...alphabet].filter(
      (c) => c !== sig.at(-1) && Buffer.from(sig.slice(0, -1) + c, 'base64url').equals(Buffer.from(sig, 'base64url')),
    );
    expect(sameBytes).toHaveLength(3);
    for (const c of sameBytes) {
      url.searchParams.set('sig', sig.slice(0, -1) + c);
      expect(thrown(() => links(t0).verifyUrl(url.href))).toBeInstanceOf(DownloadLinkInvalidError);
    }
  });

  it('refuses a link signed with another secret', async () => {
    const other = new HmacDownloadLinks({
      secret: `${secret}-rotated`,
      baseUrl: 'http://api.test',
      now: () => new Date(t0),
    });
    const link = await other.issue(target);
    expect(thrown(() => links(t0).verifyUrl(link.url))).toBeInstanceOf(DownloadLinkInvalidError);
  });

  it('requires a long secret', () => {
    expect(() => new HmacDownloadLinks({ secret: 'short', baseUrl: 'http://x' })).toThrow(
      'the download link secret must be at least 32 bytes',
    );
  });
});
