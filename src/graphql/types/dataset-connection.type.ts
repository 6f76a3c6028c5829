import { ObjectType } from 'type-graphql';
import { Connection } from './connection.type.js';
import { Dataset } from './dataset.type.js';

@ObjectType('DatasetConnection', { description: 'A page of datasets in name order.' })
export class DatasetConnection extends Connection(Dataset, 'DatasetEdge') {}
