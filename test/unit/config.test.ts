import { describe, expect, it } from 'vitest';
import { readCommonConfig } from '../../services/shared/config/common-config.ts';
import { ConfigError, EnvReader } from '../../services/shared/config/env.ts';
import { readRedisConfig } from '../../services/shared/config/redis-config.ts';
import { readCoordinatorConfig } from '../../services/coordinator/config.ts';
import { readGuestConfig } from '../../services/guest/config.ts';
import { parseHost } from '../../services/shared/config/network.ts';

function problems(env: Record<string, string>, read: (r: EnvReader) => unknown): string[] {
  const reader = new EnvReader(env);
  read(reader);
  try {
    reader.done();
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

describe('configuration from the environment', () => {
  it('reads REDIS_URL, or the original REDIS_HOST/PORT/DB with REDIS_PASSWORD', () => {
    const fromUrl = readRedisConfig(new EnvReader({ REDIS_URL: 'redis://:s3cret@redis.example:6380/2' }));
    expect(fromUrl).toMatchObject({ host: 'redis.example', port: 6380, db: 2, password: 's3cret', tls: false });
    expect(fromUrl.display).not.toContain('s3cret');
    const original = readRedisConfig(new EnvReader({ REDIS_HOST: 'cache', REDIS_PORT: '6390', REDIS_DB: '3', REDIS_PASSWORD: 'pw' }));
    expect(original).toMatchObject({ host: 'cache', port: 6390, db: 3, password: 'pw' });
    expect(readRedisConfig(new EnvReader({ REDIS_URL: 'rediss://h' })).tls).toBe(true);
  });

  it('names the variable, the value and what is allowed, for every problem at once', () => {
    const found = problems({ REDIS_PORT: 'abc', STREAM_BLOCK_MS: '0', LOG_LEVEL: 'loud', PORT: '70000' }, (r) => readCommonConfig(r, 'coordinator'));
    expect(found).toHaveLength(4);
    expect(found.find((p) => p.startsWith('REDIS_PORT='))).toMatch(/"abc" is not valid: expected an integer from 1 to 65535/);
    expect(found.find((p) => p.startsWith('STREAM_BLOCK_MS='))).toMatch(/integer from 10 to 60000/);
    expect(found.find((p) => p.startsWith('LOG_LEVEL='))).toMatch(/one of fatal, error, warn, info, debug, trace, silent/);
    expect(found.find((p) => p.startsWith('PORT='))).toMatch(/from 0 to 65535/);
  });

  it('ignores REDIS_PORT when REDIS_URL is set (Kubernetes service links inject REDIS_PORT=tcp://…)', () => {
    expect(problems({ REDIS_URL: 'redis://redis:6379/0', REDIS_PORT: 'tcp://10.0.0.7:6379' }, readRedisConfig)).toEqual([]);
    expect(problems({ REDIS_PORT: 'tcp://10.0.0.7:6379' }, readRedisConfig)[0]).toMatch(/^REDIS_PORT=/);
  });

  it('rejects a REDIS_URL that is not a redis URL', () => {
    expect(problems({ REDIS_URL: 'http://x' }, readRedisConfig)[0]).toMatch(/^REDIS_URL="http:\/\/x" is not valid: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(problems({ REDIS_URL: 'not a url' }, readRedisConfig)[0]).toMatch(/^REDIS_URL=/);
  });

  it('checks settings that depend on each other', () => {
    const found = problems({ STREAM_CLAIM_IDLE_MS: '1000', RETRY_BACKOFF_MAX_MS: '5000' }, (r) => readCommonConfig(r, 'guest'));
    expect(found[0]).toMatch(/RETRY_BACKOFF_MAX_MS \(5000\) must be below STREAM_CLAIM_IDLE_MS \(1000\)/);
  });

  it('validates guest and coordinator settings', () => {
    expect(problems({ PERSONAS: 'grumpy' }, readGuestConfig)[0]).toMatch(/^PERSONAS="grumpy" is not valid: expected a preset \(original, enthusiasts/);
    expect(problems({ PERSONAS: '[{"likely":"sure"}]' }, readGuestConfig)[0]).toMatch(/persona 0: "likely" is one of yes, maybe, no/);
    expect(problems({ GUESTS_PER_AGENT: '0' }, readGuestConfig)[0]).toMatch(/^GUESTS_PER_AGENT="0"/);
    expect(problems({ GUEST_AGENT_ID: 'has space' }, readGuestConfig)[0]).toMatch(/^GUEST_AGENT_ID="has space" is not valid/);
    expect(problems({ RSVP_DEADLINE_MS: '-5' }, readCoordinatorConfig)[0]).toMatch(/^RSVP_DEADLINE_MS="-5"/);
    expect(problems({}, readGuestConfig)).toEqual([]);
  });

  it('takes IP literals and RFC 1123 host names, and nothing that only looks like one', () => {
    for (const ok of ['redis', 'redis.default.svc.cluster.local', 'redis.', 'a-b.example', '10.0.0.1', '0.0.0.0', '::', '::1', 'fe80::1', 'x1.y2', '3com.example']) {
      expect(parseHost(ok), ok).toBeDefined();
    }
    expect(parseHost('[::1]')).toBe('::1');
    for (const bad of ['bad host', 'redis:6379', '999.1.1.1', '1.2.3', '123', '-a', 'a-', 'a..b', 'under_score', `${'a'.repeat(64)}.example`, '', '[redis]', 'http://redis']) {
      expect(parseHost(bad), bad).toBeUndefined();
    }
  });

  it('never shows REDIS_URL credentials in a problem', () => {
    const found = problems({ REDIS_URL: 'redis://app:s3cret@redis:6379/99' }, readRedisConfig);
    expect(found[0]).toMatch(/^REDIS_URL="redis:\/\/\*\*\*@redis:6379\/99"/);
    expect(found.join()).not.toContain('s3cret');
  });
});
