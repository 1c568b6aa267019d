// `npm start`: Redis (private unless configured), coordinator, five guests and the host, with
// labelled output, running until Ctrl+C, which stops everything cleanly.
import { buildWebPage, webPageStale } from '../host/web/build-page.ts';
import { localApiAuth } from './api-auth.ts';
import { MemberExited, startLocalStack, waitUntilReady } from './local-stack.ts';

const stack = await startLocalStack({ title: 'starting event-planner (Ctrl+C stops everything)' });
const { ports } = stack.config;
let stopping = false;
const stop = async (code = 0) => {
  if (stopping) return;
  stopping = true;
  stack.group.say('launcher', 'stopping all components…');
  await stack.stop();
  stack.group.say('launcher', 'stopped');
  process.exit(code);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const [coordinator, guests] = stack.group.members;
try {
  await waitUntilReady([
    { member: coordinator!, port: ports.coordinator },
    { member: guests!, port: ports.guest },
  ]);
} catch (error) {
  stack.group.say('launcher', error instanceof Error ? error.message : String(error));
  // A wrong setting (exit 2) will not fix itself: stop rather than run half a system.
  if (error instanceof MemberExited && error.code === 2) await stop(2);
}
// The page the host serves at /: built here when missing or older than its sources (a checkout
// that never ran `npm run build`), so `npm start` always shows the current one.
if (webPageStale()) {
  stack.group.say('launcher', 'building the web page (services/host/web)…');
  try {
    buildWebPage();
  } catch (error) {
    stack.group.say('launcher', `the web page could not be built; the API runs without it: ${(error as Error).message}`);
  }
}
const auth = await localApiAuth();
stack.group.startRole('host', 'host', {
  ...auth.env,
  ...stack.roleEnv('host'),
  PORT: String(ports.host),
  PUBLISH_SAMPLE_EVENT: process.env.PUBLISH_SAMPLE_EVENT ?? 'true',
});
stack.group.say('launcher', `host API on http://localhost:${ports.host} (POST /api/events; docs at /docs); /metrics on ports ${ports.host}, ${ports.coordinator}, ${ports.guest}`);
stack.group.say('launcher', `web page: http://localhost:${ports.host}/  (events, live board, message flow, guests)`);
for (const line of auth.lines(`http://localhost:${ports.host}`)) stack.group.say('launcher', line);

// A component that dies on its own is reported; the others keep running, unless a setting is wrong.
for (const member of stack.group.members) {
  void member.exited.then((code) => {
    if (stopping) return;
    stack.group.say('launcher', `${member.label} exited with code ${code}`);
    if (code === 2) void stop(2);
  });
}
