import { gunzipSync } from 'node:zlib';
import { gzipMembers } from '../../src/adapters/csv/gzip-members.js';

const BLOCK = 1024;

/** Text of `bytes` bytes, varied enough that each member compresses differently. */
function text(bytes: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${i},row ${i * 7919},"quoted, ${i % 13}"\n`;
  return Buffer.from(s.slice(0, bytes));
}

async function* chunksOf(data: Buffer, size: number, pulled?: { count: number }): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    if (pulled) pulled.count += 1;
    yield data.subarray(at, at + size);
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const member of source) out.push(member);
  return out;
}

describe('gzipMembers', () => {
  it('writes one member per block, in order, that gunzip reads back as the input', async () => {
    const data = text(10 * BLOCK + 321);
    const members = await collect(gzipMembers(chunksOf(data, 128), 6, BLOCK, 2));
    expect(members).toHaveLength(11);
    for (const member of members) expect(member.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(Buffer.concat(members)).equals(data)).toBe(true);
  });

  it('cuts members at the same bytes however the source cuts its chunks', async () => {
    const data = text(5 * BLOCK + 77);
    const whole = Buffer.concat(await collect(gzipMembers(chunksOf(data, data.length), 6, BLOCK, 2)));
    for (const size of [1, 100, BLOCK - 1, BLOCK + 1, 3 * BLOCK]) {
      expect(Buffer.concat(await collect(gzipMembers(chunksOf(data, size), 6, BLOCK, 2))).equals(whole)).toBe(true);
    }
  });

  it('copies what it takes: a source may overwrite its buffer once asked for the next chunk', async () => {
    const data = text(12 * BLOCK + 5);
    async function* reused(): AsyncGenerator<Buffer> {
      const buffer = Buffer.alloc(BLOCK);
      for (let at = 0; at < data.length; at += BLOCK) {
        const n = data.copy(buffer, 0, at, at + BLOCK);
        yield buffer.subarray(0, n);
        buffer.fill(0x21);
      }
    }
    const members = await collect(gzipMembers(reused(), 6, BLOCK, 3));
    expect(gunzipSync(Buffer.concat(members)).equals(data)).toBe(true);
  });

  it('writes one empty member for an empty input: a valid gzip file', async () => {
    const members = await collect(gzipMembers(chunksOf(Buffer.alloc(0), 100), 6, BLOCK, 2));
    expect(members).toHaveLength(1);
    expect(gunzipSync(members[0]!)).toHaveLength(0);
  });

  it.each([1, 2, 4])(
    'holds at most parallelism + 1 blocks before the first member is taken (parallelism %i)',
    async (parallelism) => {
      const data = text(20 * BLOCK);
      const pulled = { count: 0 };
      const members = gzipMembers(chunksOf(data, BLOCK, pulled), 6, BLOCK, parallelism);
      const first = await members.next();
      expect(first.done).toBe(false);
      // `parallelism` compressing and one more in hand: the next is read while the oldest is handed on.
      expect(pulled.count).toBe(parallelism + 1);
      const rest = await collect(members);
      expect(gunzipSync(Buffer.concat([first.value as Buffer, ...rest])).equals(data)).toBe(true);
    },
  );

  it('reports a compression failure where its member is awaited', async () => {
    const members = gzipMembers(chunksOf(text(4 * BLOCK), BLOCK), 42, BLOCK, 2);
    await expect(collect(members)).rejects.toThrow(/level/i);
  });
});
