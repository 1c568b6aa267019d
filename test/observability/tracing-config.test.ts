import { describe, expect, it } from 'vitest';
import { redisStatement } from '../../services/shared/telemetry/redis-statement.ts';
import { tracingConfigured } from '../../services/shared/telemetry/tracing.ts';

describe('tracingConfigured', () => {
  it('is on only with an OTLP endpoint, and the standard switches still turn it off', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    // An exporter choice alone exports nowhere: nothing is switched on without an endpoint.
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });
});

describe('redisStatement (db.query.text of Redis client spans)', () => {
  it('names the command and its keys, never a value', () => {
    const fields = ['guest_name', 'Alice Chen', 'message', 'I would love to come!'];
    expect(redisStatement('xadd', ['guest_responses', '*', ...fields])).toBe('XADD guest_responses');
    expect(redisStatement('evalsha', ['abc123', 2, 'event:{e1}', 'event:{e1}:replies', 'g1', '{"response":"yes"}'])).toBe(
      'EVALSHA event:{e1} event:{e1}:replies',
    );
    expect(redisStatement('xreadgroup', ['GROUP', 'guests', 'agent-1', 'COUNT', 10, 'BLOCK', 500, 'STREAMS', 'guest_inbox:{agent-1}', '>'])).toBe(
      'XREADGROUP guest_inbox:{agent-1}',
    );
    expect(redisStatement('xinfo', ['GROUPS', 'event_invitations'])).toBe('XINFO event_invitations');
    expect(redisStatement('set', ['host:{h}:seen:s1', '1-0', 'PX', 1000, 'NX'])).toBe('SET host:{h}:seen:s1');
    expect(redisStatement('hset', [Buffer.from('event:{e1}'), 'status', 'open'])).toBe('HSET event:{e1}');
  });

  it('shows no argument of a command it does not know, so credentials and payloads stay out', () => {
    expect(redisStatement('auth', ['default', 's3cret'])).toBe('AUTH');
    expect(redisStatement('hello', [3, 'AUTH', 'default', 's3cret'])).toBe('HELLO');
    expect(redisStatement('echo', ['Alice Chen'])).toBe('ECHO');
    expect(redisStatement('script', ['load', 'return redis.call("GET", KEYS[1])'])).toBe('SCRIPT');
  });
});
