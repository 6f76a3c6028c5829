import { Aws, Stack } from 'aws-cdk-lib';
import { CfnDatabase } from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import type { GlueTablesScope } from '../grants.js';

export interface LakeCatalogProps {
  databaseName: string;
  datasets: readonly DatasetDefinition[];
}

/**
 * The Glue database, and the ARNs of one table per dataset definition, which the ETL creates.
 *
 * The tables are not CloudFormation resources, by decision: `AWS::Glue::Table` has no column parameters, so a table
 * declared here would lack the per-column facts the API relies on (`careplus.pii`, which the access policy's PII
 * rule reads, and `careplus.nullable`) until the ETL rewrote it, and every stack update would reset it to the
 * declared columns, dropping those facts and the ETL's schema versions. The ETL creates each table, exactly as the
 * definition declares it and with those parameters, when it publishes the dataset's first object (GlueCatalog
 * `putTable`, from `tableFromDefinition`), then owns it: new schema versions, partitions. Until then the dataset is
 * not in the catalog, and the API answers for it as for any unknown dataset; there is no data to serve anyway.
 * IAM is scoped to the declared tables' ARNs (the ETL may create exactly those), and deleting the stack deletes
 * the database with its tables.
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
    new CfnDatabase(this, 'Database', {
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
    this.tableArns = [...props.datasets]
      .map((d) => d.name)
      .sort()
      .map((name) => glueArn(`table/${props.databaseName}/${name}`));
  }
}
