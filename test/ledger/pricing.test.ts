// The cost rule of SPEC.md §7 (pure).
import t from 'tap';
import { PIXELS_PER_TOKEN_UNIT, frameCost, secondsToNextHour, resetAtIso } from '../../ledger/index.js';

t.test('pricing - one token unit per started 1080p-sized area, times the model tokens', async (t) => {
  t.equal(PIXELS_PER_TOKEN_UNIT, 2_073_600);
  t.equal(frameCost(1, 640, 480), 1, 'small frames cost one unit');
  t.equal(frameCost(1, 1920, 1080), 1, 'exactly 1080p is one unit');
  t.equal(frameCost(1, 1921, 1080), 2, 'a started second unit counts');
  t.equal(frameCost(1, 3840, 2160), 4, '4K is four units');
  t.equal(frameCost(2, 3840, 2160), 8, 'yolov10n costs 2 tokens per unit');
  t.equal(frameCost(2, 810, 1080), 2);
  t.equal(frameCost(1, 0, 0), 1, 'unknown size still costs one unit');
  t.throws(() => frameCost(0, 10, 10), RangeError);
  t.throws(() => frameCost(1, -1, 10), RangeError);
  t.throws(() => frameCost(1, 1.5, 10), RangeError);
});

t.test('pricing - the hourly budget resets at the start of each UTC hour', async (t) => {
  t.equal(secondsToNextHour(Date.UTC(2026, 0, 1, 10, 0, 0)), 3600);
  t.equal(secondsToNextHour(Date.UTC(2026, 0, 1, 10, 59, 59, 1)), 1);
  t.equal(secondsToNextHour(Date.UTC(2026, 0, 1, 10, 20, 0, 500)), 2400, 'rounded up to whole seconds');
  t.equal(resetAtIso(Date.UTC(2026, 0, 1, 23, 30)), '2026-01-02T00:00:00.000Z');
});
