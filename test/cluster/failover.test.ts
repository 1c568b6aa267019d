import { describe, expect, it } from 'vitest';
import { partitionStreams, streams } from '../../services/shared/streams/keys.ts';
import { slotOf } from '../../services/shared/streams/slots.ts';
import { call, daysAhead, msAhead } from '../host/support.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from '../reliability/invariants.ts';
import { idInPartition, summariesByEvent, useClusterStack } from './support.ts';

const partitions = 3;
const ctx = useClusterStack(partitions);

/** Creates an event through the host, again while the cluster fails over (the same body is idempotent). */
async function create(host: RoleProcess, id: string): Promise<void> {
  const body = { id, event_name: `Failover ${id}`, event_date: daysAhead(4), rsvp_deadline: msAhead(25_000) };
  await eventually(async () => [202, 200].includes((await call(host, 'POST', '/api/events', body).catch(() => ({ status: 0 }))).status), 30_000, `event ${id} accepted`);
}

describe('a Redis Cluster master failing over mid-flow', () => {
  it('keeps every delivery guarantee through a manual CLUSTER FAILOVER and a kill -9 of a master', async () => {
    const { procs, cluster } = ctx;
    const coordinators = [await procs.coordinator({ GUEST_TTL_MS: '600000' }), await procs.coordinator({ GUEST_TTL_MS: '600000' })];
    // Replies spread over a few seconds, so that they are in flight while masters change.
    const agents = [
      await procs.guests({ GUESTS_PER_AGENT: '5', GUEST_AGENT_ID: 'fo-agent-a', REPLY_DELAY_SCALE: '0.3' }),
      await procs.guests({ GUESTS_PER_AGENT: '5', GUEST_AGENT_ID: 'fo-agent-b', REPLY_DELAY_SCALE: '0.3' }),
    ];
    const host = await procs.host({ HOST_ID: 'fo-host', GUEST_TTL_MS: '600000' });
    const events: string[] = [];
    const wave = async (name: string) => {
      for (let p = 0; p < partitions; p += 1) {
        const id = idInPartition(`${name}-p${p}`, p, partitions);
        await create(host, id);
        events.push(id);
      }
    };

    // 1. A manual failover (the replica takes over, no write lost) of partition 0's master.
    await wave('before');
    await delay(1_000);
    const slot0 = slotOf(partitionStreams(streams.invitations, partitions)[0]!);
    const master0 = await cluster.masterOf(slot0);
    const replica0 = (await cluster.nodes()).find((n) => n.masterId === master0.id)!;
    expect(await cluster.cli(replica0.port, 'CLUSTER', 'FAILOVER')).toBe('OK');
    await eventually(async () => (await cluster.masterOf(slot0)).id === replica0.id, 20_000, 'the replica promoted');
    await wave('after-failover');

    // 2. kill -9 of partition 1's master: its replica is elected after the node timeout (2 s).
    await delay(1_000);
    const slot1 = slotOf(partitionStreams(streams.invitations, partitions)[1]!);
    const master1 = await cluster.masterOf(slot1);
    await cluster.killNode(master1.port);
    await wave('during-kill');
    await eventually(async () => (await cluster.masterOf(slot1).catch(() => master1)).id !== master1.id, 30_000, 'a replica elected for the killed master');
    await cluster.waitHealthy();
    await wave('after-kill');
    // The killed node comes back as a replica of the one that replaced it.
    await cluster.restartNode(master1.port);

    const summaries = await eventually(
      async () => {
        const s = await summariesByEvent(cluster.client);
        return events.every((id) => (s.get(id)?.length ?? 0) >= 1) ? s : undefined;
      },
      90_000,
      'a summary for every event',
    );
    for (const id of events) expect(summaries.get(id), id).toHaveLength(1);

    // Every process rode it out (none exited), and each still reads every partition.
    const processes = [...coordinators, ...agents, host].map((p) => ({ label: p.role, expected: p.running, detail: p.running ? 'running' : 'exited' }));
    for (const c of coordinators) expect(await c.get('/readyz')).toMatchObject({ status: 200 });
    const rows = await eventually(async () => {
      const r = await checkInvariants({ redis: cluster.client, events, partitions, processes });
      return failures(r) === '' ? r : undefined;
    }, 30_000, 'the invariants hold').catch(async () => checkInvariants({ redis: cluster.client, events, partitions, processes }));
    expect(failures(rows)).toBe('');
  }, 240_000);
});
