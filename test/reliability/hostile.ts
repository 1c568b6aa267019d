import { MAX_FIELD_LENGTH } from '../../services/shared/schema/validation.ts';
import { streams } from '../../services/shared/streams/keys.ts';
import type { Random } from '../../services/shared/util/random.ts';

/** An entry no consumer can accept, with the reason codes its dead letter may carry. */
export interface HostileEntry {
  stream: string;
  fields: (string | Buffer)[];
  kind: string;
  /** Acceptable reason codes; empty means any code (random bytes can fail in several ways). */
  codes: string[];
}

export interface HostileTargets {
  /** Events that exist (or will): replies to them from strangers are `not_invited`. */
  eventIds: string[];
  /** A guest agent whose inbox gets malformed deliveries. */
  agentId: string;
}

const iso = () => new Date().toISOString();

function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function bytes(random: Random, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) out[i] = Math.floor(random() * 256);
  return out;
}

function validInvitation(n: number): Record<string, string> {
  return {
    id: `hostile-inv-${n}`,
    event_name: 'Totally Legit Party',
    event_date: '2025-02-15',
    event_time: '14:00',
    location: 'Room 1',
    description: 'x',
    host_name: 'Mallory',
    host_id: 'mallory',
    timestamp: '2025-01-20T10:30:00',
  };
}

function validReply(n: number, eventId: string, guestId: string): Record<string, string> {
  return { id: `reply:${eventId}:0:${guestId}`, invitation_id: eventId, guest_name: 'Eve', guest_id: guestId, response: 'yes', message: 'hi', timestamp: iso(), sequence: '0', v: '1', nonce: String(n) };
}

function validDelivery(n: number): Record<string, string> {
  return {
    invitation_id: `hostile-event-${n}`,
    event_name: 'Party',
    rsvp_deadline: new Date(Date.now() + 60_000).toISOString(),
    guests: '["nobody.0@nowhere"]',
    delivery_key: `k${n}`,
    v: '1',
  };
}

function validSummary(n: number): Record<string, string> {
  return { id: `summary:hostile-${n}`, invitation_id: `hostile-event-${n}`, host_id: 'h', total_invited: '1', responses: '[]', no_response: '[]', v: '1' };
}

const flatten = (fields: Record<string, string>): string[] => Object.entries(fields).flat();

type Maker = (n: number, random: Random, t: HostileTargets) => HostileEntry;

/** One maker per way of being wrong; each entry is certainly rejected by its consumer. */
const makers: Maker[] = [
  (n, random) => {
    const f = validInvitation(n);
    delete f[pick(random, ['event_name', 'id', 'host_id'] as const)];
    return { stream: streams.invitations, fields: flatten(f), kind: 'missing field', codes: ['missing_field'] };
  },
  (n, random) => {
    const f = validInvitation(n);
    const [name, value] = pick(random, [
      ['event_date', '2025-02-30'],
      ['event_date', 'tomorrow'],
      ['event_time', '25:61'],
      ['sequence', '-1'],
      ['sequence', 'abc'],
      ['sequence', '99999999999'],
      ['timestamp', 'yesterday'],
      ['rsvp_deadline', 'soon'],
      ['id', 'has spaces {and} braces'],
      ['id', '../../etc/passwd'],
      ['host_id', 'ünïcödé'],
      ['id', 'nul\u0000byte'],
    ] as const);
    f[name] = value;
    return { stream: streams.invitations, fields: flatten(f), kind: 'wrong type', codes: ['invalid_field'] };
  },
  (n, random) => {
    const size = random() < 0.02 ? 1_048_576 : MAX_FIELD_LENGTH + 1 + Math.floor(random() * 30_000);
    const f = { ...validInvitation(n), description: 'A'.repeat(size) };
    return { stream: streams.invitations, fields: flatten(f), kind: 'oversized value', codes: ['field_too_large'] };
  },
  (n, random) => {
    const f = { ...validInvitation(n), v: pick(random, ['3', '999', '1.0', '', 'v1', '0']) };
    return { stream: pick(random, [streams.invitations, streams.responses]), fields: flatten(f), kind: 'unknown schema version', codes: ['unsupported_schema_version'] };
  },
  (n, random) => {
    const f = validInvitation(n);
    const extra = 65 + Math.floor(random() * 200);
    for (let i = 0; i < extra; i += 1) f[`extra_${i}`] = String(i);
    return { stream: streams.invitations, fields: flatten(f), kind: 'too many fields', codes: ['too_many_fields'] };
  },
  (n, random, t) => {
    const f = validReply(n, pick(random, t.eventIds), `stranger-${n}@nowhere`);
    delete f[pick(random, ['guest_id', 'invitation_id', 'response', 'id'] as const)];
    return { stream: streams.responses, fields: flatten(f), kind: 'missing field', codes: ['missing_field'] };
  },
  (n, random, t) => {
    const f = validReply(n, pick(random, t.eventIds), `stranger-${n}@nowhere`);
    const [name, value] = pick(random, [
      ['response', 'perhaps'],
      ['response', '1'],
      ['sequence', 'x'],
      ['timestamp', 'a while ago'],
      ['guest_id', 'drop table;'],
    ] as const);
    f[name] = value;
    return { stream: streams.responses, fields: flatten(f), kind: 'wrong type', codes: ['invalid_field'] };
  },
  (n) => ({
    stream: streams.responses,
    fields: flatten(validReply(n, `no-such-event-${n}`, `g.${n}@nowhere`)),
    kind: 'unknown event',
    codes: ['unknown_invitation'],
  }),
  (n, random, t) => ({
    stream: streams.responses,
    fields: flatten(validReply(n, pick(random, t.eventIds), `stranger-${n}@nowhere`)),
    kind: 'guest not invited',
    // Before its event exists a stranger's reply is for an unknown event.
    codes: ['not_invited', 'unknown_invitation'],
  }),
  (n, random, t) => {
    const f = { ...validReply(n, pick(random, t.eventIds), `stranger-${n}@nowhere`), message: 'B'.repeat(MAX_FIELD_LENGTH + 1 + Math.floor(random() * 20_000)) };
    return { stream: streams.responses, fields: flatten(f), kind: 'oversized value', codes: ['field_too_large'] };
  },
  (n, random, t) => {
    const f = validDelivery(n);
    const [name, value, code] = pick(random, [
      ['guests', '[not json', 'invalid_json'],
      ['guests', '{"a":1}', 'invalid_field'],
      ['guests', '[]', 'invalid_field'],
      ['delivery_key', undefined, 'missing_field'],
      ['rsvp_deadline', 'never', 'invalid_field'],
      ['guests', '["stranger.1@nowhere"]', 'unknown_guest'],
      ['v', '42', 'unsupported_schema_version'],
    ] as const);
    if (value === undefined) delete f[name];
    else f[name] = value;
    return { stream: streams.inbox(t.agentId), fields: flatten(f), kind: 'malformed delivery', codes: [code] };
  },
  (n, random) => {
    const f = validSummary(n);
    const [name, value, code] = pick(random, [
      ['responses', '{oops', 'invalid_json'],
      ['id', undefined, 'missing_field'],
      ['total_invited', 'many', 'invalid_field'],
      ['v', '3', 'unsupported_schema_version'],
    ] as const);
    if (value === undefined) delete f[name];
    else f[name] = value;
    return { stream: streams.summaries, fields: flatten(f), kind: 'malformed summary', codes: [code] };
  },
  (_n, random, t) => {
    const fields: Buffer[] = [];
    const pairs = 1 + Math.floor(random() * 8);
    for (let i = 0; i < pairs; i += 1) fields.push(bytes(random, 1 + Math.floor(random() * 40)), bytes(random, Math.floor(random() * 200)));
    return { stream: pick(random, [streams.invitations, streams.responses, streams.inbox(t.agentId), streams.summaries]), fields, kind: 'binary junk', codes: [] };
  },
  (n, random) => {
    // Names that would reach into an object's prototype, and a repeated field; no event_name.
    const fields = ['__proto__', '{"polluted":true}', 'constructor', 'x', 'id', `proto-${n}`, 'id', 'second', 'toString', '', 'hasOwnProperty', '1', 'host_id', 'h'];
    if (random() < 0.5) fields.push('event_name', '   ');
    return { stream: streams.invitations, fields, kind: 'prototype names', codes: ['missing_field'] };
  },
];

/** `count` hostile entries, spread over every kind, in a random order. */
export function hostileEntries(count: number, random: Random, targets: HostileTargets): HostileEntry[] {
  const entries = Array.from({ length: count }, (_, n) => makers[n % makers.length]!(n, random, targets));
  for (let i = entries.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return entries;
}
