import { loadConfig } from '../../src/config';

/** The export-dispatch settings: who runs export jobs, the queue, and how long one start of a job may run. */
describe('loadConfig: export dispatch', () => {
  it('runs jobs in the process by default, with a 15-minute lease', () => {
    const c = loadConfig({}, '/srv/app');
    expect({
      dispatch: c.exports.dispatch,
      queueUrl: c.exports.queueUrl,
      leaseSeconds: c.exports.leaseSeconds,
    }).toEqual({ dispatch: 'in-process', queueUrl: undefined, leaseSeconds: 900 });
  });

  it('reads the queue and the lease for SQS dispatch', () => {
    const c = loadConfig({
      CAREPLUS_EXPORT_DISPATCH: 'sqs',
      CAREPLUS_EXPORT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/careplus-export-jobs',
      CAREPLUS_EXPORT_LEASE_SECONDS: '300',
    });
    expect({
      dispatch: c.exports.dispatch,
      queueUrl: c.exports.queueUrl,
      leaseSeconds: c.exports.leaseSeconds,
    }).toEqual({
      dispatch: 'sqs',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/careplus-export-jobs',
      leaseSeconds: 300,
    });
  });

  it('ignores a queue URL when jobs run in the process', () => {
    expect(loadConfig({ CAREPLUS_EXPORT_QUEUE_URL: 'https://sqs.example/1/q' }).exports.queueUrl).toBeUndefined();
  });

  it('requires the queue URL for SQS dispatch, and a URL', () => {
    expect(() => loadConfig({ CAREPLUS_EXPORT_DISPATCH: 'sqs' })).toThrow(
      'CAREPLUS_EXPORT_QUEUE_URL is required when CAREPLUS_EXPORT_DISPATCH=sqs',
    );
    expect(() =>
      loadConfig({ CAREPLUS_EXPORT_DISPATCH: 'sqs', CAREPLUS_EXPORT_QUEUE_URL: 'careplus-export-jobs' }),
    ).toThrow('CAREPLUS_EXPORT_QUEUE_URL="careplus-export-jobs" is not valid: expected an http(s) URL');
  });

  it('refuses an unknown dispatch and a lease out of range', () => {
    expect(() => loadConfig({ CAREPLUS_EXPORT_DISPATCH: 'kafka' })).toThrow(
      'CAREPLUS_EXPORT_DISPATCH="kafka" is not valid: expected one of in-process, sqs',
    );
    expect(() => loadConfig({ CAREPLUS_EXPORT_LEASE_SECONDS: '5' })).toThrow(
      'CAREPLUS_EXPORT_LEASE_SECONDS=5 is out of range: expected 10 to 43200',
    );
  });
});
