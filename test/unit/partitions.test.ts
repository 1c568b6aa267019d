import { describe, expect, it } from 'vitest';
import { eventStream, isPersistentKey, lanes, partitionOf, partitionStreams, streams } from '../../services/shared/streams/keys.ts';
import { slotCount, slotOf } from '../../services/shared/streams/slots.ts';

describe('stream partitions (STREAM_PARTITIONS)', () => {
  it('with one partition, the original stream names, as the original host reads and writes them', () => {
    expect(partitionStreams(streams.invitations, 1)).toEqual(['event_invitations']);
    expect(partitionStreams(streams.responses, 1)).toEqual(['guest_responses']);
    expect(lanes.invitations('normal', 'any-event', 1)).toBe('event_invitations');
    expect(lanes.responses('normal', 'any-event')).toBe('guest_responses');
    expect(lanes.responses('high', 'any-event', 3)).toBe('guest_responses:high');
  });

  it('with N partitions, partition i lies in the i-th of N equal slot ranges (one per shard of an evenly split cluster)', () => {
    for (const n of [2, 3, 4, 6, 16]) {
      const names = partitionStreams(streams.invitations, n);
      expect(new Set(names).size).toBe(n);
      names.forEach((name, i) => {
        expect(name).toMatch(/^event_invitations:\{p\d+(\.\d+)?\}$/);
        expect(slotOf(name)).toBeGreaterThanOrEqual(Math.floor((i * slotCount) / n));
        expect(slotOf(name)).toBeLessThan(Math.floor(((i + 1) * slotCount) / n));
        expect(isPersistentKey(name)).toBe(true);
      });
      // Both hot streams of a partition share its slot.
      expect(partitionStreams(streams.responses, n).map(slotOf)).toEqual(names.map(slotOf));
    }
  });

  it('an event always maps to the same partition, and events spread over all of them', () => {
    const ids = Array.from({ length: 3_000 }, (_, i) => `event-${i}`);
    const counts = [0, 0, 0];
    for (const id of ids) {
      const p = partitionOf(id, 3);
      expect(partitionOf(id, 3)).toBe(p);
      expect(eventStream(streams.responses, id, 3)).toBe(partitionStreams(streams.responses, 3)[p]);
      counts[p]! += 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
