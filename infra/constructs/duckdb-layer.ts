import { RemovalPolicy } from 'aws-cdk-lib';
import { Code, LayerVersion } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FUNCTION_ARCHITECTURE, FUNCTION_RUNTIME } from './service-function.js';

/**
 * DuckDB's Node API and its native binding as a Lambda layer (`nodejs/node_modules/@duckdb/...`, on the
 * runtime's NODE_PATH). The bundles leave `@duckdb/*` external: the binding is a `.node` file plus
 * `libduckdb.so` that a bundler cannot inline, and sharing one layer keeps the 70 MB out of each function's
 * code upload.
 */
export class DuckdbLayer extends Construct {
  readonly layer: LayerVersion;

  constructor(scope: Construct, id: string, props: { codeDir: string }) {
    super(scope, id);
    this.layer = new LayerVersion(this, 'Layer', {
      description: 'DuckDB Node API with the linux-x64 native binding',
      code: Code.fromAsset(props.codeDir),
      compatibleRuntimes: [FUNCTION_RUNTIME],
      compatibleArchitectures: [FUNCTION_ARCHITECTURE],
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
