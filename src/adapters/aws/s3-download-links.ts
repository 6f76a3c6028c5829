import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { DownloadLink, DownloadLinkIssuer, DownloadTarget } from '../../ports/download-links.js';

/** SigV4 presigned URLs live at most seven days. */
const MAX_TTL_SECONDS = 7 * 24 * 3600;

export interface S3DownloadLinksOptions {
  /** The exports bucket's real name. */
  bucket: string;
  /** Default one hour. */
  ttlSeconds?: number;
  now?: () => Date;
}

/**
 * Download links with the S3 store: presigned GET URLs for exactly one object, answered with
 * `Content-Disposition: attachment` so browsers save the file rather than show it.
 */
export class S3DownloadLinks implements DownloadLinkIssuer {
  private readonly ttlSeconds: number;
  private readonly now: () => Date;

  constructor(
    private readonly client: S3Client,
    private readonly options: S3DownloadLinksOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 3600;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1 || this.ttlSeconds > MAX_TTL_SECONDS) {
      throw new Error(`ttlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`);
    }
    this.now = options.now ?? (() => new Date());
  }

  async issue(target: DownloadTarget, options?: { notAfter?: Date | null }): Promise<DownloadLink> {
    const now = this.now();
    let seconds = this.ttlSeconds;
    // A presigned URL stops working when the credentials that signed it expire, whatever its X-Amz-Expires says
    // (temporary credentials: a role session, a Lambda function's): the link says so rather than promise longer.
    const signedBy = (await this.client.config.credentials()).expiration;
    for (const end of [options?.notAfter, signedBy]) {
      if (end === null || end === undefined) continue;
      seconds = Math.max(1, Math.min(seconds, Math.floor((end.getTime() - now.getTime()) / 1000)));
    }
    const command = new GetObjectCommand({
      Bucket: this.options.bucket,
      Key: target.key,
      ResponseContentDisposition: `attachment; filename="${target.fileName.replace(/["\\\r\n]/g, '_')}"`,
    });
    const url = await getSignedUrl(this.client, command, { expiresIn: seconds, signingDate: now });
    return { url, expiresAt: new Date(now.getTime() + seconds * 1000) };
  }
}
