import { MAX_PREFER_WAIT_SECONDS, waitSecondsOf } from '../../api/transfers/prefer';

describe('Prefer: wait=N (RFC 7240)', () => {
  it.each<[string | undefined, number]>([
    ['wait=5', 5],
    ['  wait=12\t', 12],
    ['WAIT=3', 3],
    ['respond-async, wait=7', 7],
    ['wait=8; handling=lenient', 8],
    ['wait="9"', 9],
    ['wait=0', 0],
  ])('honours %j as %i seconds', (prefer, seconds) => {
    expect(waitSecondsOf(prefer)).toBe(seconds);
  });

  it('caps a longer wait at the maximum', () => {
    expect(waitSecondsOf('wait=31')).toBe(MAX_PREFER_WAIT_SECONDS);
    expect(waitSecondsOf('wait=999999999')).toBe(MAX_PREFER_WAIT_SECONDS);
    expect(waitSecondsOf(`wait=${'9'.repeat(400)}`)).toBe(MAX_PREFER_WAIT_SECONDS);
  });

  it('finds wait=N after preferences it does not know, however long the header', () => {
    expect(waitSecondsOf(`foo="${'x'.repeat(5000)}", respond-async; bar=1, wait=4`)).toBe(4);
  });

  it('takes only the first wait, and no wait parameter of another preference', () => {
    expect(waitSecondsOf('wait=2, wait=9')).toBe(2);
    expect(waitSecondsOf('wait=abc, wait=9')).toBe(0);
    expect(waitSecondsOf('respond-async; wait=5')).toBe(0);
  });

  it.each([undefined, '', 'respond-async', 'wait=', 'wait=-1', 'wait=1.5', 'wait=abc', 'nowait=5', 'wait=5x', 'null'])(
    'ignores %j: no preference it knows, so no wait',
    (prefer) => {
      expect(waitSecondsOf(prefer)).toBe(0);
    },
  );
});
