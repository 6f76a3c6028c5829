import { answerRange } from '../../src/http/byte-range.js';

describe('answerRange', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-9', { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=90-1000', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-1000', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=99-99', { kind: 'partial', start: 99, end: 99 }],
    ['bytes=100-', { kind: 'unsatisfiable' }],
    ['bytes=100-200', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=9-5', { kind: 'full' }],
    ['bytes=0-9,20-29', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['items=0-9', { kind: 'full' }],
    ['bytes=a-9', { kind: 'full' }],
    ['bytes=99999999999999999999-', { kind: 'full' }],
  ])('answers %j on 100 bytes with %j', (header, answer) => {
    expect(answerRange(header, 100)).toEqual(answer);
  });

  it('finds no satisfiable range in an empty file', () => {
    expect(answerRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange(undefined, 0)).toEqual({ kind: 'full' });
  });
});
