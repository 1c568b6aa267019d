import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Processes } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';
import { type CollectedSpan, OtlpReceiver, SpanKinds, traceTree } from './helpers.ts';

let redis: TestRedis;
let receiver: OtlpReceiver;
let procs: Processes | undefined;

beforeAll(async () => {
  redis = await startTestRedis();
  receiver = await new OtlpReceiver().start();
});
afterAll(async () => {
  await receiver?.stop();
  await redis?.stop();
});
afterEach(async () => {
  await procs?.stopAll();
  await redis.flush();
});

const services = { host: 'event-planner-host', coordinator: 'event-planner-coordinator', guest: 'event-planner-guest' };

/** Every span named `name` in `spans`, checked to be at least `min` of them. */
function named(spans: CollectedSpan[], name: string, min = 1): CollectedSpan[] {
  const found = spans.filter((s) => s.name === name);
  expect(found.length, `spans named "${name}": ${found.length}`).toBeGreaterThanOrEqual(min);
  return found;
}

describe('one event is one trace across host, coordinator and guests', () => {
  it('links every hop with the right parents, and batch spans link the messages they handled', async () => {
    procs = new Processes({ REDIS_URL: redis.url, ...receiver.env });
    await procs.coordinator();
    await procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'original', GUEST_AGENT_ID: 'agent-a', GUEST_SEED: 'trace' });
    await procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'original', GUEST_AGENT_ID: 'agent-b', GUEST_SEED: 'trace' });
    const host = await procs.host({ HOST_ID: 'tracing-host' });

    const eventName = 'Observability offsite';
    const response = await fetch(host.url('/api/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'traced-event', event_name: eventName }),
    });
    expect(response.status).toBe(202);
    const received = await host.waitForLog((l) => l.msg.startsWith('📊 summary received'), 30_000, 'summary');
    expect(received).toMatchObject({ eventId: 'traced-event', invited: 5, noResponse: 0 });
    // SIGTERM: each role exports what its batch processor still holds before it exits.
    await procs.stopAll();
    await eventually(() => receiver.spans.some((s) => s.name === 'receive summary'), 10_000, 'the host receipt span');
    expect(receiver.rejected).toEqual([]);

    // The trace starts at the host's HTTP request, named by route template.
    const [server] = receiver.spans.filter((s) => s.name === 'POST /api/events');
    expect(server).toMatchObject({ service: services.host, kind: SpanKinds.server, parentSpanId: '' });
    expect(server!.attributes).toMatchObject({ 'http.route': '/api/events', 'http.response.status_code': 202 });
    const traceId = server!.traceId;
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: CollectedSpan) => byId.get(s.parentSpanId);
    if (process.env.SHOW_TRACE) console.log(traceTree(receiver.spans, traceId));
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(Object.values(services)));
    // Every span of the trace hangs off the HTTP request: nothing is orphaned, nothing starts anew.
    for (const span of trace) {
      if (span !== server) expect(parentOf(span), `parent of ${span.service} "${span.name}" in\n${traceTree(receiver.spans, traceId)}`).toBeDefined();
    }
    // And every span about this event is in this trace.
    const aboutEvent = receiver.spans.filter((s) => s.attributes['event_planner.event_id'] === 'traced-event');
    expect(aboutEvent.length).toBeGreaterThanOrEqual(4);
    expect(aboutEvent.every((s) => s.traceId === traceId)).toBe(true);

    // host publish
    const [publish] = named(trace, 'send event_invitations');
    expect(publish).toMatchObject({ service: services.host, kind: SpanKinds.producer, parentSpanId: server!.spanId });
    expect(publish!.attributes).toMatchObject({ 'messaging.system': 'redis', 'messaging.destination.name': 'event_invitations' });

    // coordinator fan-out: child of the publish, one delivery per agent
    const [fanOut] = named(trace, 'apply revision');
    expect(fanOut).toMatchObject({ service: services.coordinator, parentSpanId: publish!.spanId });
    const deliveries = named(trace, 'send guest_inbox', 2);
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries) expect(d).toMatchObject({ service: services.coordinator, kind: SpanKinds.producer, parentSpanId: fanOut!.spanId });

    // each guest agent processes its delivery as the child of that delivery (single message), linking it too
    const guestProcess = named(trace, 'process guest_inbox', 2);
    expect(guestProcess).toHaveLength(2);
    for (const p of guestProcess) {
      expect(p).toMatchObject({ service: services.guest, kind: SpanKinds.consumer });
      expect(deliveries.map((d) => d.spanId)).toContain(p.parentSpanId);
      expect(p.links).toContainEqual({ traceId, spanId: p.parentSpanId });
      expect(p.attributes['messaging.batch.message_count']).toBeUndefined();
    }
    // each guest's reply is sent inside its agent's process span
    const replies = named(trace, 'send guest_responses', 5);
    expect(replies).toHaveLength(5);
    for (const r of replies) expect(guestProcess.map((p) => p.spanId)).toContain(r.parentSpanId);
    const replyIds = new Set(replies.map((r) => r.spanId));

    // counting: child of the first reply of its call, linked to the others; together they cover all five
    const counts = named(trace, 'count replies');
    const counted = new Set<string>();
    for (const c of counts) {
      expect(c.service).toBe(services.coordinator);
      expect(replyIds).toContain(c.parentSpanId);
      counted.add(c.parentSpanId);
      for (const link of c.links) {
        expect(replyIds).toContain(link.spanId);
        counted.add(link.spanId);
      }
    }
    expect(counted).toEqual(replyIds);

    // summary: continues the event under the fan-out, linked to the counting that decided it
    const [summarize] = named(trace, 'summarize');
    expect(summarize).toMatchObject({ service: services.coordinator, parentSpanId: fanOut!.spanId });
    expect(counts.map((c) => c.spanId)).toContain(summarize!.links[0]?.spanId);
    const [summarySend] = named(trace, 'send event_summaries');
    expect(summarySend).toMatchObject({ service: services.coordinator, kind: SpanKinds.producer, parentSpanId: summarize!.spanId });

    // host receipt
    const [hostProcess] = named(trace, 'process event_summaries');
    expect(hostProcess).toMatchObject({ service: services.host, kind: SpanKinds.consumer, parentSpanId: summarySend!.spanId });
    const [receipt] = named(trace, 'receive summary');
    expect(receipt).toMatchObject({ service: services.host, parentSpanId: hostProcess!.spanId });

    // The coordinator reads in batches: a batch span is a root of its own that links each message.
    const invitationBatches = receiver.spans.filter((s) => s.name === 'process event_invitations');
    const invitationBatch = invitationBatches.find((s) => s.links.some((l) => l.spanId === publish!.spanId));
    expect(invitationBatch).toMatchObject({ service: services.coordinator, kind: SpanKinds.consumer, parentSpanId: '' });
    expect(invitationBatch!.traceId).not.toBe(traceId);
    expect(invitationBatch!.attributes['messaging.batch.message_count']).toBe(invitationBatch!.links.length);
    const replyBatches = receiver.spans.filter((s) => s.name === 'process guest_responses');
    const linkedReplies = new Set(replyBatches.flatMap((b) => b.links.filter((l) => l.traceId === traceId).map((l) => l.spanId)));
    expect(linkedReplies).toEqual(replyIds);
    for (const b of replyBatches) expect(b).toMatchObject({ kind: SpanKinds.consumer, parentSpanId: '' });

    // ioredis client spans: inside the trace, statements without stream payloads
    const redisSpans = receiver.spans.filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(redisSpans.filter((s) => s.traceId === traceId && s.kind === SpanKinds.client).length).toBeGreaterThan(0);
    expect(redisSpans.some((s) => String(s.attributes['db.query.text']).startsWith('EVALSHA event:{traced-event}'))).toBe(true);
    const guestNames = ['Alice Chen', 'Bob Rodriguez', 'Carol Williams', 'David Kim', 'Emma Thompson'];
    for (const span of redisSpans) {
      const statement = String(span.attributes['db.query.text']);
      expect(statement).toMatch(/^[A-Z]+( \S+)*$/);
      for (const secret of [eventName, ...guestNames]) expect(statement).not.toContain(secret);
    }
    // A `send` span is its XADD: the entries a producer pipelines get no client span of their own.
    // (A script of the stream's consumer, e.g. claiming an entry again for a retry, is no send.)
    const producerOf: Record<string, string> = { event_invitations: services.host, guest_inbox: services.coordinator, event_summaries: services.coordinator };
    const sends = redisSpans.filter((s) => {
      const statement = String(s.attributes['db.query.text']);
      const script = /^EVALSHA (event_invitations|guest_inbox|event_summaries)/.exec(statement);
      return statement.startsWith('XADD') || (script !== null && producerOf[script[1]!] === s.service);
    });
    expect(sends).toEqual([]);
    // Probes and scrapes are not traced (waitReady polled /readyz many times).
    expect(receiver.spans.some((s) => s.kind === SpanKinds.server && s.name !== 'POST /api/events')).toBe(false);

    // Log lines inside the trace carry its id.
    expect(received.trace_id).toBe(traceId);
  });
});
