// `npm start`: Redis (private unless configured), coordinator, five guests and the host, with
// labelled output, running until Ctrl+C, which stops everything cleanly.
import { localPorts, startLocalStack, waitUntilReady } from './local-stack.ts';

const stack = await startLocalStack({ title: 'starting event-planner (Ctrl+C stops everything)' });
await waitUntilReady([localPorts.coordinator, localPorts.guest]).catch((error: unknown) => {
  stack.group.say('launcher', String(error));
});
stack.group.startRole('host', 'host', {
  REDIS_URL: stack.redisUrl,
  PORT: String(localPorts.host),
  PUBLISH_SAMPLE_EVENT: process.env.PUBLISH_SAMPLE_EVENT ?? 'true',
});
stack.group.say('launcher', `host API on http://localhost:${localPorts.host} (POST /api/events); /metrics on ports ${localPorts.host}, ${localPorts.coordinator}, ${localPorts.guest}`);

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
