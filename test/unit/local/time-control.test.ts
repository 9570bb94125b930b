import { advanceClock, clockOffsetMs, installTimeControl, resetClock } from '../../../local/time-control';

afterEach(() => resetClock());

test('advancing the platform clock moves Date.now() and new Date() together, and Dates stay Dates', () => {
  const before = new Date();
  installTimeControl();
  const t0 = Date.now();
  advanceClock(3_600_000);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(3_600_000);
  expect(new Date().getTime() - t0).toBeGreaterThanOrEqual(3_600_000);
  expect(clockOffsetMs()).toBe(3_600_000);
  expect(before instanceof Date).toBe(true);
  expect(new Date(0).toISOString()).toBe('1970-01-01T00:00:00.000Z');
  expect(typeof Date()).toBe('string');
  class Stamp extends Date {}
  expect(new Stamp(5).getTime()).toBe(5);
});

test('the clock never moves back, except by an explicit reset', () => {
  installTimeControl();
  expect(() => advanceClock(-1)).toThrow(RangeError);
  advanceClock(1000);
  resetClock();
  expect(clockOffsetMs()).toBe(0);
});
