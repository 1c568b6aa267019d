import { parseCrashPoint } from '../streams/crash-point.ts';
import type { EnvReader } from './env.ts';

/**
 * How every consumer in every role reads, retries, reclaims and trims. Defaults follow what the
 * reliability notes in docs/RELIABILITY.md explain; each one is an environment variable.
 */
export interface StreamSettings {
  /** XREADGROUP BLOCK in ms. Bounded so a silently dead connection is noticed (never 0). */
  blockMs: number;
  /** Entries read per XREADGROUP. */
  batchSize: number;
  /** Entries handled at once by one consumer (across batches). */
  concurrency: number;
  /** An entry pending this long without a keep-alive is considered abandoned and reclaimed. */
  claimIdleMs: number;
  /** How often each consumer looks for abandoned entries (XAUTOCLAIM). */
  reclaimIntervalMs: number;
  /** Deliveries after which an entry that still fails goes to the dead-letter stream. */
  maxDeliveries: number;
  /** Retry backoff: base * 2^(attempt-1), capped, with full jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Stream entries older than this are trimmed once every group has read and acknowledged them. */
  retentionMs: number;
  /** How often retention, idle-consumer and dead-agent clean-up runs. */
  janitorIntervalMs: number;
  /** Consumers idle this long with nothing pending are removed from their group. */
  consumerIdleMs: number;
  /** On SIGTERM: how long in-flight work may take before the process exits anyway. */
  shutdownGraceMs: number;
  /**
   * Partitions of event_invitations and guest_responses (keys.ts, partitionStreams). Every process
   * of a deployment must use the same number: the host and guests write an event's traffic to its
   * partition, coordinators read them all. 1 keeps the original stream names.
   */
  partitions: number;
  /**
   * Replicas that must hold a consumer's writes before it acknowledges the entries they served
   * (WAIT on every master, replica-wait.ts). 0: acknowledge at once (one Redis; its AOF keeps the
   * writes). With replicas (Redis Cluster), 1 closes the window in which a master that dies loses
   * writes it acknowledged but had not yet sent to the replica promoted in its place.
   */
  ackWaitReplicas: number;
  /** How long the WAIT before an acknowledgement may take; short of the replicas, nothing is acknowledged. */
  ackWaitTimeoutMs: number;
  /** Test-only crash point (STREAM_TEST_CRASH, see crash-point.ts); empty in production. */
  testCrash: string;
}

export const streamSettingDefaults: StreamSettings = {
  blockMs: 5_000,
  batchSize: 100,
  concurrency: 200,
  claimIdleMs: 60_000,
  reclaimIntervalMs: 15_000,
  maxDeliveries: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  retentionMs: 24 * 3_600_000,
  janitorIntervalMs: 30_000,
  consumerIdleMs: 3_600_000,
  shutdownGraceMs: 20_000,
  partitions: 1,
  ackWaitReplicas: 0,
  ackWaitTimeoutMs: 1_000,
  testCrash: '',
};

export function readStreamSettings(env: EnvReader, overrides: Partial<StreamSettings> = {}): StreamSettings {
  const d = { ...streamSettingDefaults, ...overrides };
  const s: StreamSettings = {
    blockMs: env.int('STREAM_BLOCK_MS', d.blockMs, { min: 10, max: 60_000 }),
    batchSize: env.int('STREAM_BATCH_SIZE', d.batchSize, { min: 1, max: 10_000 }),
    concurrency: env.int('STREAM_CONCURRENCY', d.concurrency, { min: 1, max: 100_000 }),
    claimIdleMs: env.int('STREAM_CLAIM_IDLE_MS', d.claimIdleMs, { min: 100, max: 86_400_000 }),
    reclaimIntervalMs: env.int('STREAM_RECLAIM_INTERVAL_MS', d.reclaimIntervalMs, { min: 50, max: 3_600_000 }),
    maxDeliveries: env.int('STREAM_MAX_DELIVERIES', d.maxDeliveries, { min: 1, max: 1_000 }),
    backoffBaseMs: env.int('RETRY_BACKOFF_BASE_MS', d.backoffBaseMs, { min: 1, max: 3_600_000 }),
    backoffMaxMs: env.int('RETRY_BACKOFF_MAX_MS', d.backoffMaxMs, { min: 1, max: 3_600_000 }),
    retentionMs: env.int('STREAM_RETENTION_MS', d.retentionMs, { min: 1_000, max: 365 * 86_400_000 }),
    janitorIntervalMs: env.int('JANITOR_INTERVAL_MS', d.janitorIntervalMs, { min: 100, max: 86_400_000 }),
    consumerIdleMs: env.int('CONSUMER_IDLE_MS', d.consumerIdleMs, { min: 1_000, max: 30 * 86_400_000 }),
    shutdownGraceMs: env.int('SHUTDOWN_GRACE_MS', d.shutdownGraceMs, { min: 0, max: 600_000 }),
    partitions: env.int('STREAM_PARTITIONS', d.partitions, { min: 1, max: 256 }),
    ackWaitReplicas: env.int('STREAM_ACK_WAIT_REPLICAS', d.ackWaitReplicas, { min: 0, max: 16 }),
    ackWaitTimeoutMs: env.int('STREAM_ACK_WAIT_TIMEOUT_MS', d.ackWaitTimeoutMs, { min: 10, max: 60_000 }),
    testCrash: env.string('STREAM_TEST_CRASH', d.testCrash),
  };
  if (s.testCrash !== '') {
    const point = parseCrashPoint(s.testCrash);
    if (typeof point === 'string') env.fail('STREAM_TEST_CRASH', s.testCrash, point);
  }
  if (s.backoffMaxMs < s.backoffBaseMs) {
    env.problem(`RETRY_BACKOFF_MAX_MS (${s.backoffMaxMs}) must be at least RETRY_BACKOFF_BASE_MS (${s.backoffBaseMs})`);
  }
  if (s.consumerIdleMs <= s.blockMs) {
    // A consumer blocked in a read is idle for up to STREAM_BLOCK_MS: it would be removed while alive.
    env.problem(`CONSUMER_IDLE_MS (${s.consumerIdleMs}) must be above STREAM_BLOCK_MS (${s.blockMs})`);
  }
  if (s.backoffMaxMs >= s.claimIdleMs) {
    // A retry waiting longer than the claim timeout would be reclaimed by another replica meanwhile.
    env.problem(`RETRY_BACKOFF_MAX_MS (${s.backoffMaxMs}) must be below STREAM_CLAIM_IDLE_MS (${s.claimIdleMs})`);
  }
  return s;
}
