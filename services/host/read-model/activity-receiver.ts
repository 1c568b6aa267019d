import { parseActivity } from '../../shared/schema/activity.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../../shared/streams/entry.ts';
import type { ReadModel } from './read-model.ts';

/**
 * Reads `event_activity` in this host application's group (each replica a share) and applies the
 * changes to the events of this host to the shared read model; changes for other hosts' events are
 * skipped. Applying is idempotent, so a redelivery after a crash is harmless.
 */
export function activityHandler(readModel: ReadModel, hostId: string): (entry: StreamEntry) => Promise<EntryOutcome> {
  return async (entry) => {
    const parsed = parseActivity(entry.fields);
    if (!parsed.ok) return dead(parsed.reason);
    try {
      await readModel.applyActivity(entry.id, parsed.value, hostId);
      return ack;
    } catch (error) {
      return retry(error);
    }
  };
}
