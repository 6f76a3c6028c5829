/** Exit status after Ctrl-C, as shells report a process ended by SIGINT. */
export const INTERRUPTED_EXIT = 130;

/**
 * Ctrl-C (or SIGTERM) during a batch of ETL work (`start`'s ingest, `careplus ingest`, `careplus compact`): the
 * first signal lets the file or partition in hand finish and stops before the next, so the run records its result,
 * undoes nothing half-way and releases its locks. Killed mid-file instead, a run leaves its locks held for their
 * lease (a minute in which the next run waits), its record RUNNING and its files visible beside the published ones
 * until the next run over them. A second signal stops at once, as before.
 */
export class BatchInterrupt {
  private signal: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.signal !== undefined) process.exit(INTERRUPTED_EXIT);
    this.signal = signal;
    this.say(`careplus: ${signal}: stopping once the ${this.unit} in hand is done (again to stop at once)\n`);
  };

  private constructor(
    private readonly unit: string,
    private readonly say: (text: string) => void,
  ) {}

  /** Listens for SIGINT and SIGTERM until `stop()`; `unit` names the work item in the message (`file`). */
  static listen(unit: string, say: (text: string) => void = (t) => process.stderr.write(t)): BatchInterrupt {
    const interrupt = new BatchInterrupt(unit, say);
    process.on('SIGINT', interrupt.onSignal);
    process.on('SIGTERM', interrupt.onSignal);
    return interrupt;
  }

  /** True once a signal asked the batch to stop: start no further item. */
  get requested(): boolean {
    return this.signal !== undefined;
  }

  stop(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
