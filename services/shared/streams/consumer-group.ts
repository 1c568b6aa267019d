import type { ConsumerScope } from './consumer-scope.ts';

/**
 * Creates the group (and the stream, MKSTREAM) unless it exists. Called at start, on every
 * reconnect (a Redis that restarted without its data has lost the group) and on NOGROUP.
 */
export async function ensureGroup(scope: ConsumerScope, start: '0' | '$'): Promise<void> {
  try {
    await scope.connections.command.xgroup('CREATE', scope.stream, scope.group, start, 'MKSTREAM');
    scope.log.debug('consumer group created');
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error;
  }
}
