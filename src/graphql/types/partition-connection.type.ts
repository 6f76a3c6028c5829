import { ObjectType } from 'type-graphql';
import { Connection } from './connection.type.js';
import { Partition } from './partition.type.js';

@ObjectType('PartitionConnection', { description: 'A page of partitions in name order.' })
export class PartitionConnection extends Connection(Partition, 'PartitionEdge') {}
