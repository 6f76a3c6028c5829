import { Aws, Stack } from 'aws-cdk-lib';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import type { GlueTablesScope } from '../grants.js';
import { glueTableInput } from '../glue-table-input.js';

export interface LakeCatalogProps {
  databaseName: string;
  datasets: readonly DatasetDefinition[];
  processed: IBucket;
}

/**
 * The Glue database and one table per dataset definition. The ETL later records new schema versions
 * (UpdateTable) and registers partitions; a redeploy after a definition changes sets the declared columns.
 */
export class LakeCatalog extends Construct implements GlueTablesScope {
  readonly databaseName: string;
  readonly catalogArn: string;
  readonly databaseArn: string;
  readonly allTablesArn: string;
  readonly tableArns: string[];

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    if (props.datasets.length === 0) throw new Error('the catalog needs at least one dataset definition');
    const stack = Stack.of(this);
    this.databaseName = props.databaseName;
    const database = new CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: props.databaseName,
        description: 'CarePlus DataStores: processed support-log datasets (Parquet, partitioned by day).',
      },
    });
    const glueArn = (resourceName: string): string => stack.formatArn({ service: 'glue', resource: resourceName });
    this.catalogArn = glueArn('catalog');
    this.databaseArn = glueArn(`database/${props.databaseName}`);
    this.allTablesArn = glueArn(`table/${props.databaseName}/*`);
    this.tableArns = [];
    for (const def of [...props.datasets].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const table = new CfnTable(this, `Table-${def.name}`, {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: props.databaseName,
        tableInput: glueTableInput(def, props.processed.bucketName),
      });
      table.node.addDependency(database);
      this.tableArns.push(glueArn(`table/${props.databaseName}/${def.name}`));
    }
  }
}
