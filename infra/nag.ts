import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 reads acknowledgements from CDK's own `Validations.of(scope).acknowledge(...)`. Every rule this
 * app acknowledges goes through `acknowledgeRule`, which refuses an acknowledgement without a real reason.
 */
export function acknowledgeRule(scope: IConstruct, id: `AwsSolutions-${string}`, reason: string): void {
  if (reason.trim().length < 40) throw new Error(`acknowledgement of ${id} needs a reason, got "${reason}"`);
  Validations.of(scope).acknowledge({ id, reason });
}

export interface Acknowledgement {
  /** Construct path the acknowledgement is attached to (it covers that construct and its children). */
  path: string;
  id: string;
  reason: string;
}

/** Every acknowledgement in a construct tree, in tree order; for the tests and for reviewers. */
export function listAcknowledgements(root: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      const data = entry.data as Record<string, string>;
      for (const [qualified, reason] of Object.entries(data)) {
        // CDK stores rule ids with an `Annotation::` prefix; cdk-nag strips it the same way.
        found.push({ path: c.node.path, id: qualified.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}
