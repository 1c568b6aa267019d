import { describe, expect, it } from 'vitest';
import { chunkGuestIds } from '../../services/coordinator/fan-out.ts';
import { MAX_GUESTS_PER_DELIVERY } from '../../services/shared/schema/delivery.ts';
import { MAX_FIELD_LENGTH } from '../../services/shared/schema/validation.ts';

// Found by the benchmark: 500 guest ids of ~30 characters made a 16 KB `guests` field, which the
// agents dead-lettered as field_too_large. Chunks must fit both limits and stay deterministic.
describe('delivery chunks', () => {
  it('keeps every chunk within the guest count and the field length, in order, losing nobody', () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => `aisha-costa-with-a-long-name.${i}@bench-agent-with-a-long-id-1`);
    const chunks = chunkGuestIds(ids);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(MAX_GUESTS_PER_DELIVERY);
      expect(JSON.stringify(chunk).length).toBeLessThanOrEqual(MAX_FIELD_LENGTH);
    }
    expect(chunks.flat()).toEqual(ids);
    expect(chunkGuestIds([...ids])).toEqual(chunks);
  });

  it('uses the guest count limit when ids are short', () => {
    const ids = Array.from({ length: 1_001 }, (_, i) => `g${i}`);
    expect(chunkGuestIds(ids).map((c) => c.length)).toEqual([500, 500, 1]);
  });
});
