import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { readinessProbe } from '../../src/http/readiness-route.js';

describe('readinessProbe', () => {
  it('counts a check that does not answer in time as unavailable, and logs why', async () => {
    const lines: string[] = [];
    const probe = readinessProbe({
      logger: new JsonLogger('info', (l) => lines.push(l)),
      timeoutMs: 50,
      checks: [
        { name: 'storage', probe: () => new Promise(() => undefined) },
        { name: 'catalog', probe: () => Promise.resolve() },
      ],
    });
    await expect(probe()).resolves.toEqual({ ready: false, checks: { storage: 'unavailable', catalog: 'ok' } });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ msg: 'readiness check failed', check: 'storage', error: 'no answer within 50 ms' }),
    ]);
  });

  it('runs one probe for requests at once and reuses its answer for cacheMs', async () => {
    let clock = 0;
    let calls = 0;
    const probe = readinessProbe({
      logger: new JsonLogger('silent'),
      cacheMs: 1000,
      now: () => clock,
      checks: [{ name: 'storage', probe: async () => void (calls += 1) }],
    });
    await Promise.all([probe(), probe(), probe()]);
    expect(calls).toBe(1);
    clock = 999;
    await probe();
    expect(calls).toBe(1);
    clock = 1000;
    await expect(probe()).resolves.toEqual({ ready: true, checks: { storage: 'ok' } });
    expect(calls).toBe(2);
  });
});
