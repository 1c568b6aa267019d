// `npm run demo`: the original's automated demo. Starts Redis (private unless configured), the
// coordinator, five guests and the host; the host publishes the sample invitation and prints the
// summary; then everything stops. Exit 0 with a summary, non-zero without one in time (2 when a
// setting is wrong).
import { localApiAuth } from './api-auth.ts';
import { MemberExited, startLocalStack, waitUntilReady } from './local-stack.ts';

const started = Date.now();
const stack = await startLocalStack({ title: 'event-planner demo: one invitation, five guests, one summary' });
const { ports, demoTimeoutMs } = stack.config;
let code = 1;
try {
  stack.group.say('launcher', 'step 1/3: waiting for the coordinator and the guests to be ready');
  const [coordinator, guests] = stack.group.members;
  await waitUntilReady([
    { member: coordinator!, port: ports.coordinator },
    { member: guests!, port: ports.guest },
  ]);
  stack.group.say('launcher', 'step 2/3: the host publishes "Team Building Workshop"; guests reply after their think time');
  const host = stack.group.startRole('host', 'host', {
    // The demo uses no API call: the host gets a key of this run only, so its API is not left open.
    ...(await localApiAuth()).env,
    ...stack.roleEnv('host'),
    PORT: String(ports.host),
    PUBLISH_SAMPLE_EVENT: 'true',
    EXIT_AFTER_SUMMARY: 'true',
    SUMMARY_TIMEOUT_MS: String(demoTimeoutMs),
  });
  code = await host.exited;
  stack.group.say('launcher', code === 0 ? 'step 3/3: summary received' : `no summary within ${demoTimeoutMs} ms (host exit code ${code})`);
} catch (error) {
  if (error instanceof MemberExited) code = error.code;
  stack.group.say('launcher', `demo failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await stack.stop();
}
stack.group.say('launcher', `demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s, exit code ${code}`);
process.exit(code);
