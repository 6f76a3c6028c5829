import { mkdir } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckDbSettings {
  memoryLimit: string;
  threads: number;
  /** Folder for DuckDB's spill files; bounded memory depends on it. */
  tempDirectory: string;
}

/**
 * One in-process DuckDB instance per process (in-memory database), configured with a memory limit and a
 * spill directory. Callers take a connection per unit of work and close it when done.
 */
export class DuckDbDatabase {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async create(settings: DuckDbSettings): Promise<DuckDbDatabase> {
    await mkdir(settings.tempDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:', {
      memory_limit: settings.memoryLimit,
      threads: String(settings.threads),
      temp_directory: settings.tempDirectory,
      // Extensions are never downloaded at run time: the engine reads local files only.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    return new DuckDbDatabase(instance);
  }

  async connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  /** Runs `fn` on a fresh connection and closes it afterwards, whatever happens. */
  async withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}
