// `npm start`: Redis (private unless configured), coordinator, five guests and the host, with
// labelled output, running until Ctrl+C, which stops everything cleanly.
import { startLocalStack, waitUntilReady } from './local-stack.ts';

const stack = await startLocalStack({ title: 'starting event-planner (Ctrl+C stops everything)' });
await waitUntilReady([Number(process.env.COORDINATOR_PORT ?? 8081), Number(process.env.GUEST_PORT ?? 8082)]).catch((error: unknown) => {
  stack.group.say('launcher', String(error));
});
stack.group.startRole('host', 'host', {
  REDIS_URL: stack.redisUrl,
  PUBLISH_SAMPLE_EVENT: process.env.PUBLISH_SAMPLE_EVENT ?? 'true',
});
stack.group.say('launcher', 'host API on http://localhost:8080 (POST /api/events); metrics on :8080, :8081, :8082 /metrics');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  stack.group.say('launcher', 'stopping all components…');
  await stack.stop();
  stack.group.say('launcher', 'stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// A component that dies on its own is reported; the others keep running.
for (const member of stack.group.members) {
  void member.exited.then((code) => {
    if (!stopping) stack.group.say('launcher', `${member.label} exited with code ${code}`);
  });
}
