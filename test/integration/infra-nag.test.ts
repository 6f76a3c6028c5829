import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ALLOWED_WILDCARDS } from '../../infra/grants.js';
import { listAcknowledgements } from '../../infra/nag.js';
import { type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

/**
 * cdk-nag's AwsSolutions pack over the whole app, as `npm run synth` runs it (infra/app.ts registers it with
 * `Validations.of(app).addPlugins(...)`, cdk-nag 3's replacement for the v2 Aspect), plus CDK's built-in
 * CloudFormation validation. Zero unacknowledged findings; every acknowledgement carries its reason, and the
 * full list is kept in a snapshot for review.
 */
let s: SynthesisedStack;

beforeAll(async () => {
  s = await synthesiseStack({ cloudFormationValidation: true });
});
afterAll(() => s.cleanup());

function violationsOf(scope: App | Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath ?? '?'}: ${v.description}`),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning for the deployment', () => {
    expect(violationsOf(s.app)).toEqual([]);
  });

  it('does report findings on an unhardened bucket, so the check above is not vacuous', () => {
    const control = new Stack(new App(), 'NagControl');
    new Bucket(control, 'Plain');
    const found = violationsOf(control).map((v) => v.split(' ')[1]);
    expect(found).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });

  it('has every acknowledgement attached with a reason, as listed in the reviewed snapshot', () => {
    const acks = listAcknowledgements(s.app);
    for (const a of acks) {
      expect(a.id).toMatch(/^AwsSolutions-[A-Z0-9]+(\[.+\])?$/);
      expect(a.reason.trim().length).toBeGreaterThanOrEqual(40);
    }
    const review = acks.map((a) => ({
      at: a.path.replace(/^CarePlusDataStores\//, ''),
      rule: a.id.replace(/<([A-Za-z0-9]+)(\.[A-Za-z]+)?>/g, (whole, id: string, attr: string | undefined) => {
        const path = s.paths.get(id);
        return path === undefined ? whole : `<${path.replace(/\/Resource$/, '')}${attr ?? ''}>`;
      }),
      reason: a.reason,
    }));
    expect(review).toMatchSnapshot();
  });

  it('acknowledges wildcard resources (AwsSolutions-IAM5) only with the reason of their documented shape', () => {
    const iam5 = listAcknowledgements(s.app).filter((a) => a.id.startsWith('AwsSolutions-IAM5'));
    expect(iam5.length).toBeGreaterThan(0);
    for (const a of iam5) {
      const resource = /^AwsSolutions-IAM5\[Resource::(.+)\]$/.exec(a.id)?.[1];
      expect(resource).toBeDefined();
      const shape = ALLOWED_WILDCARDS.find((w) => w.resource.test(resource!));
      expect({ resource, reason: a.reason }).toEqual({ resource, reason: shape?.reason });
    }
  });
});

describe('CDK synthesis checks', () => {
  it('passes CDK’s built-in CloudFormation validation without findings', () => {
    const report = JSON.parse(readFileSync(join(s.app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it('leaves no error or warning annotation on the stack', () => {
    expect(Annotations.fromStack(s.stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.anyValue())).toEqual([]);
  });
});
