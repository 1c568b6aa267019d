import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { attemptsKey, deadLetterStream, timersKey, eventKeys, hashTagOf, hostSeenKey, isPersistentKey, janitorLockKey, onceKey, registryKeys, streamLabel, streams } from '../../services/shared/streams/keys.ts';

// Keys a script or MULTI changes together must map to one Redis Cluster slot.

/** Every key of an event, the per-call ones (stage, fan-out) with a sample name. */
const allEventKeys = (id: string): string[] => Object.values(eventKeys(id)).map((k) => (typeof k === 'function' ? k('x1') : k));
describe('key layout', () => {
  it('keeps the original stream names', () => {
    expect([streams.invitations, streams.responses, streams.summaries]).toEqual(['event_invitations', 'guest_responses', 'event_summaries']);
    expect(streams.inbox('agent-1')).toBe('guest_inbox:{agent-1}');
  });

  it('puts every key of an event in one slot', () => {
    for (const id of ['a', '3f1c2d4e-1111-2222-3333-444455556666', 'x:y.z@w']) {
      const slots = new Set(allEventKeys(id).map((k) => calculateSlot(k)));
      expect(slots.size).toBe(1);
    }
  });

  it('puts dead letters and once-markers in their stream’s slot', () => {
    for (const stream of [streams.invitations, streams.responses, streams.summaries, streams.inbox('agent-7')]) {
      expect(calculateSlot(deadLetterStream(stream))).toBe(calculateSlot(stream));
      expect(calculateSlot(onceKey(stream, 'some-key'))).toBe(calculateSlot(stream));
    }
    expect(deadLetterStream('guest_responses')).toBe('dead_letters:{guest_responses}');
    expect(deadLetterStream('guest_inbox:{a}')).toBe('guest_inbox:{a}:dead_letters');
  });

  it('puts an agent’s registry hashes in one slot', () => {
    expect(calculateSlot(registryKeys.agentGuests('a1'))).toBe(calculateSlot(registryKeys.agentInfo('a1')));
    expect(calculateSlot(registryKeys.agentGuestsStage('a1', 'f00d-1'))).toBe(calculateSlot(registryKeys.agentGuests('a1')));
  });

  it('computes hash tags like Redis Cluster', () => {
    expect(hashTagOf('event:{abc}:replies')).toBe('abc');
    expect(hashTagOf('plain')).toBe('plain');
    expect(hashTagOf('empty:{}:tag')).toBe('empty:{}:tag');
  });

  it('collapses per-agent inboxes into one metric label', () => {
    expect(streamLabel(streams.inbox('a'))).toBe('guest_inbox');
    expect(streamLabel(deadLetterStream(streams.inbox('a')))).toBe('guest_inbox:dead_letters');
    expect(streamLabel(streams.responses)).toBe('guest_responses');
  });

  it('lets only the streams, their dead letters and the two index zsets live without a TTL', () => {
    const fixed = [streams.invitations, streams.responses, streams.summaries, streams.inbox('agent-1'), deadLetterStream(streams.responses), deadLetterStream(streams.inbox('a.b@c')), timersKey, registryKeys.agents];
    expect(fixed.filter((k) => !isPersistentKey(k))).toEqual([]);
    const expiring = [
      ...allEventKeys('e1'),
      onceKey(streams.invitations, 'e1'),
      onceKey(streams.inbox('agent-1'), 'e1:0:0'),
      attemptsKey(streams.responses),
      attemptsKey(streams.inbox('agent-1')),
      registryKeys.agentGuests('agent-1'),
      registryKeys.agentGuestsStage('agent-1', 'f00d-1'),
      registryKeys.agentInfo('agent-1'),
      hostSeenKey('host-1', 'summary:e1'),
      janitorLockKey,
      'guest_inbox:{a}{b}',
    ];
    expect(expiring.filter((k) => isPersistentKey(k))).toEqual([]);
  });
});
