import { ObjectType } from 'type-graphql';
import { Connection } from './connection.type.js';
import { ExportJob } from './export-job.type.js';

@ObjectType('ExportJobConnection', { description: "A page of the caller's export jobs, newest first." })
export class ExportJobConnection extends Connection(ExportJob, 'ExportJobEdge') {}
