import type { Runtime } from '../composition.js';
import { writeSample } from '../sample/write-sample.js';

/** `careplus sample`: writes the seeded sample logs into the raw bucket and prints what it wrote. */
export async function sample(rt: Runtime, seed: number, days: number): Promise<void> {
  const manifest = await writeSample(rt.store, { seed, days });
  process.stdout.write(
    `wrote ${manifest.files.length} raw files: ${manifest.totalRecords} records ` +
      `(${manifest.goodRecords} good, ${manifest.defectRecords} with a planted defect)\n`,
  );
}
