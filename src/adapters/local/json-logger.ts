import type { Logger, LogLevel } from '../../ports/logger.js';

const ORDER: Record<LogLevel | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Writes one JSON line per entry to a sink (stderr by default, so stdout stays for command output). */
export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel | 'silent' = 'info',
    private readonly sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
    private readonly base: Record<string, unknown> = {},
  ) {}

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.base, ...fields });
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    this.sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...this.base, ...fields }));
  }
}
