/**
 * The body of an export-job message on the SQS queue between the API and the export worker: the job id and a
 * format version, as JSON. Nothing else travels: the job record in the store is the one source of the request,
 * the caller's grant and the job's state, so a message delivered late or twice can only point at the job.
 */
export interface ExportJobMessage {
  version: 1;
  jobId: string;
}

/** Job ids as the service makes them (UUIDs) and the job store accepts them. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function encodeExportJobMessage(jobId: string): string {
  if (!JOB_ID.test(jobId)) throw new Error(`not an export job id: ${JSON.stringify(jobId)}`);
  const message: ExportJobMessage = { version: 1, jobId };
  return JSON.stringify(message);
}

/** The job id of a message body; an Error naming what is wrong when it is not an export-job message. */
export function parseExportJobMessage(body: string): string | Error {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return new Error('export-job message: the body is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return new Error('export-job message: the body is not a JSON object');
  }
  const { version, jobId } = doc as Record<string, unknown>;
  if (version !== 1) return new Error(`export-job message: unsupported version ${JSON.stringify(version)}`);
  if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
    return new Error(`export-job message: jobId ${JSON.stringify(jobId)} is not an export job id`);
  }
  return jobId;
}
