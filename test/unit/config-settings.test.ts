import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, SETTINGS, unknownSettings } from '../../src/config';

const ROOT = join(__dirname, '..', '..');

describe('settings', () => {
  it('lists every variable loadConfig reads, and the README documents each', () => {
    const source = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
    // The names the readers are called with: r.string('CAREPLUS_…'), r.int(…), …
    const read = new Set([...source.matchAll(/\br\.\w+\(\s*'(CAREPLUS_[A-Z0-9_]+)'/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(40);
    expect([...SETTINGS].sort()).toEqual([...read].sort());
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(SETTINGS.filter((s) => !readme.includes(s))).toEqual([]);
  });

  it('names the CAREPLUS_ variables no setting reads, with the setting a typo was meant for', () => {
    const env = {
      CAREPLUS_PROT: '4001',
      CAREPLUS_LAKEDIR: '/srv/lake',
      CAREPLUS_SOMETHING_ELSE: 'x',
      CAREPLUS_PORT: '4002',
      PATH: '/usr/bin',
    };
    expect(unknownSettings(env)).toEqual([
      { name: 'CAREPLUS_LAKEDIR', didYouMean: 'CAREPLUS_LAKE_DIR' },
      { name: 'CAREPLUS_PROT', didYouMean: 'CAREPLUS_PORT' },
      { name: 'CAREPLUS_SOMETHING_ELSE' },
    ]);
    expect(loadConfig(env, '/srv/app').ignoredSettings).toEqual(unknownSettings(env));
    expect(loadConfig({ CAREPLUS_PORT: '4002' }, '/srv/app').ignoredSettings).toEqual([]);
  });
});
