import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { AuditLog, scrub } from '../../src/auth/audit-log.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';

const WHEN = new Date('2024-05-01T12:00:00.000Z');
const ANALYST = { id: 'key:0123456789abcdef', name: 'BI tool', role: 'analyst' };

function capture(): { audit: AuditLog; lines: string[] } {
  const lines: string[] = [];
  return { audit: new AuditLog(new JsonLogger('info', (l) => lines.push(l)), () => WHEN), lines };
}

describe('audit log', () => {
  it('writes one structured line per export request: who, what, when, outcome, without predicate values', () => {
    const { audit, lines } = capture();
    audit.exportRequested(
      ANALYST,
      {
        dataset: 'support_events',
        columns: ['ticket_id', 'customer'],
        where: [
          { column: 'product', op: 'EQ', values: ['Secret Product'] },
          { column: 'priority', op: 'IN', values: [1, 2] },
        ],
        engine: 'duckdb',
        jobId: 'job-1',
      },
      'accepted',
    );
    expect(lines).toHaveLength(1);
    const { time, ...entry } = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(typeof time).toBe('string');
    expect(entry).toEqual({
      level: 'info',
      msg: 'audit',
      component: 'audit',
      audit: {
        event: 'export.requested',
        who: ANALYST,
        what: {
          dataset: 'support_events',
          columns: ['ticket_id', 'customer'],
          where: [
            { column: 'product', op: 'EQ' },
            { column: 'priority', op: 'IN' },
          ],
          engine: 'duckdb',
          jobId: 'job-1',
        },
        when: '2024-05-01T12:00:00.000Z',
        outcome: 'accepted',
      },
    });
    expect(lines[0]).not.toContain('Secret Product');
  });

  it('writes denied access with its reason', () => {
    const { audit, lines } = capture();
    audit.accessDenied(ANALYST, { action: 'preview', dataset: 'helpdesk_events' }, 'dataset not visible');
    expect((JSON.parse(lines[0]!) as { audit: unknown }).audit).toEqual({
      event: 'access.denied',
      who: ANALYST,
      what: { action: 'preview', dataset: 'helpdesk_events' },
      when: '2024-05-01T12:00:00.000Z',
      outcome: 'denied',
      reason: 'dataset not visible',
    });
  });

  it('never carries a key, a token or a signed URL, even when a caller puts one in its input', async () => {
    const key = generateApiKey().plaintext;
    const links = new HmacDownloadLinks({ secret: 'x'.repeat(32), baseUrl: 'http://127.0.0.1:4000', now: () => WHEN });
    const { url } = await links.issue({ jobId: 'job-1', fileName: 'part-00000.csv', key: 'job-1/part-00000.csv' });
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    const { audit, lines } = capture();
    audit.exportRequested(
      { id: 'key:0123456789abcdef', name: `named ${key}`, role: 'analyst' },
      { dataset: 'support_events', columns: [url, jwt], jobId: `see ${url}` },
      'refused',
    );
    audit.accessDenied(ANALYST, { action: `download ${url}` }, `bad header Bearer ${key.slice(0, 30)}`);
    const log = lines.join('\n');
    const signature = new URL(url).searchParams.get('sig')!;
    expect(signature).toHaveLength(43);
    for (const secret of [key, key.slice(21), key.slice(0, 30), url, signature, jwt]) expect(log).not.toContain(secret);
    expect(log).toContain('http://127.0.0.1:4000/downloads/job-1/part-00000.csv?[redacted]');
    expect(log).toContain('[redacted key]');
    expect(log).toContain('[redacted token]');
  });

  it('scrubs nested values and leaves other values alone', () => {
    expect(
      scrub({ a: ['cpk_0123456789abcdef_x', 3, null], b: { c: 'https://s3.test/b/k?X-Amz-Signature=abc' } }),
    ).toEqual({
      a: ['[redacted key]', 3, null],
      b: { c: 'https://s3.test/b/k?[redacted]' },
    });
  });
});
