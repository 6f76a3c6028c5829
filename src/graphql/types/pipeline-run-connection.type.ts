import { ObjectType } from 'type-graphql';
import { Connection } from './connection.type.js';
import { PipelineRun } from './pipeline-run.type.js';

@ObjectType('PipelineRunConnection', { description: 'A page of pipeline runs, newest first.' })
export class PipelineRunConnection extends Connection(PipelineRun, 'PipelineRunEdge') {}
