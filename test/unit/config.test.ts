import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/domain/errors';

describe('loadConfig', () => {
  it('applies the documented defaults for an empty environment', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c.lakeDir).toBe('/srv/app/lake');
    expect(c.port).toBe(4000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.storage).toBe('local');
    expect(c.catalog).toBe('local');
    expect(c.env).toBe('production');
    expect(c.publicUrl).toBe('http://127.0.0.1:4000');
    expect(c.cacheDir).toBe(join('/srv/app/lake', '.cache'));
    expect(c.s3.buckets).toEqual({ raw: 'raw', processed: 'processed', exports: 'exports' });
    expect(c.duckdb.memoryLimit).toBe('2GB');
    // In production too: the API lets only roles that may use GraphiQL introspect (the console's GraphQL page).
    expect(c.limits.introspection).toBe(true);
    expect(loadConfig({ CAREPLUS_INTROSPECTION: 'false' }, '/srv/app').limits.introspection).toBe(false);
  });

  it('reads the mask key as text or, after hex:, as the bytes it spells; 32 to 64 bytes', () => {
    const key = (value: string): Uint8Array | undefined => loadConfig({ CAREPLUS_MASK_KEY: value }).auth.maskKey;
    expect(loadConfig({}).auth.maskKey).toBeUndefined();
    expect(key('k'.repeat(32))).toEqual(Buffer.from('k'.repeat(32), 'utf8'));
    expect(key('é'.repeat(32))).toHaveLength(64);
    expect(key(`hex:${'ab'.repeat(32)}`)).toEqual(Buffer.alloc(32, 0xab));
    expect(key(`hex:${'AB'.repeat(64)}`)).toHaveLength(64);
    const refused = 'CAREPLUS_MASK_KEY must be 32 to 64 bytes: text, or hex: followed by 64 to 128 hex digits';
    for (const bad of [
      'k'.repeat(31),
      'k'.repeat(65),
      `hex:${'ab'.repeat(31)}`,
      `hex:${'ab'.repeat(65)}`,
      'hex:xyz',
      `hex:${'a'.repeat(65)}`,
    ]) {
      expect(() => key(bad)).toThrow(new ConfigError(refused));
    }
  });

  it('names the variable and the value when a port is not a number', () => {
    expect(() => loadConfig({ CAREPLUS_PORT: 'eighty' })).toThrow(
      new ConfigError('CAREPLUS_PORT="eighty" is not valid: expected a whole number'),
    );
  });

  it('refuses a port out of range', () => {
    expect(() => loadConfig({ CAREPLUS_PORT: '70000' })).toThrow(
      'CAREPLUS_PORT=70000 is out of range: expected 0 to 65535',
    );
  });

  it('refuses an unknown storage kind, listing the choices', () => {
    expect(() => loadConfig({ CAREPLUS_STORAGE: 'ftp' })).toThrow(
      'CAREPLUS_STORAGE="ftp" is not valid: expected one of local, s3',
    );
  });

  it('requires the bucket names when storage is s3', () => {
    expect(() => loadConfig({ CAREPLUS_STORAGE: 's3' })).toThrow(
      'CAREPLUS_S3_RAW_BUCKET is required when CAREPLUS_STORAGE=s3',
    );
  });

  it('reads s3 settings and defaults path-style addressing on for a custom endpoint', () => {
    const c = loadConfig({
      CAREPLUS_STORAGE: 's3',
      CAREPLUS_S3_ENDPOINT: 'http://127.0.0.1:9000/',
      CAREPLUS_S3_RAW_BUCKET: 'r',
      CAREPLUS_S3_PROCESSED_BUCKET: 'p',
      CAREPLUS_S3_EXPORTS_BUCKET: 'e',
    });
    expect(c.s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      publicEndpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      buckets: { raw: 'r', processed: 'p', exports: 'e' },
    });
  });

  it('points download links at a public S3 endpoint when one is set', () => {
    const c = loadConfig({
      CAREPLUS_STORAGE: 's3',
      CAREPLUS_S3_ENDPOINT: 'http://minio:9000',
      CAREPLUS_S3_PUBLIC_ENDPOINT: 'https://files.example.com',
      CAREPLUS_S3_RAW_BUCKET: 'r',
      CAREPLUS_S3_PROCESSED_BUCKET: 'p',
      CAREPLUS_S3_EXPORTS_BUCKET: 'e',
    });
    expect({ endpoint: c.s3.endpoint, publicEndpoint: c.s3.publicEndpoint }).toEqual({
      endpoint: 'http://minio:9000',
      publicEndpoint: 'https://files.example.com',
    });
    expect(() => loadConfig({ CAREPLUS_S3_PUBLIC_ENDPOINT: 'files.example.com' })).toThrow(
      'CAREPLUS_S3_PUBLIC_ENDPOINT="files.example.com" is not valid: expected an http(s) URL',
    );
  });

  it('refuses an endpoint that is not an http URL', () => {
    expect(() => loadConfig({ CAREPLUS_S3_ENDPOINT: 'ftp://x' })).toThrow(
      'CAREPLUS_S3_ENDPOINT="ftp://x" is not valid: expected an http(s) URL',
    );
  });

  it('refuses a malformed DuckDB memory limit', () => {
    expect(() => loadConfig({ CAREPLUS_DUCKDB_MEMORY_LIMIT: 'lots' })).toThrow(
      'CAREPLUS_DUCKDB_MEMORY_LIMIT="lots" is not valid: expected a size such as 512MB or 2GB',
    );
  });

  it('refuses a boolean that is neither true nor false', () => {
    expect(() => loadConfig({ CAREPLUS_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(
      'CAREPLUS_S3_FORCE_PATH_STYLE="yes" is not valid: expected true or false',
    );
  });
});
