import type { Logger } from '../../src/ports/logger.js';

/**
 * The ETL's logger for a benchmark trial: keeps the phase timings of the "ingest finished" line (they say where
 * the time goes) and passes warnings and errors to stderr; info lines are dropped so they cost no I/O.
 */
export class PhaseCaptureLogger implements Logger {
  constructor(private readonly captured: { phasesMs?: Record<string, number> } = {}) {}

  /** `phase_<name>_ms` per phase of the last finished run. */
  phases(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, ms] of Object.entries(this.captured.phasesMs ?? {})) out[`phase_${name}_ms`] = ms;
    return out;
  }

  debug(): void {}

  info(msg: string, fields?: Record<string, unknown>): void {
    const phases = fields?.['phasesMs'];
    if (msg === 'ingest finished' && typeof phases === 'object' && phases !== null) {
      this.captured.phasesMs = phases as Record<string, number>;
    }
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    process.stderr.write(JSON.stringify({ level: 'warn', msg, ...fields }) + '\n');
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    process.stderr.write(JSON.stringify({ level: 'error', msg, ...fields }) + '\n');
  }

  child(): Logger {
    // Children share the capture: the run's logger is a child of the runtime's.
    return new PhaseCaptureLogger(this.captured);
  }
}
