import type { Question } from '../shared/schema/questions.ts';

/** Events whose version's questions are remembered at most (the oldest goes first). */
const CAPACITY = 10_000;

export interface VersionQuestions {
  sequence: number;
  questions: Question[];
}

/**
 * The questions of each event's current version, as this process last saw them: remembered when
 * it applies a revision that opens or updates a version, or when the reply handler reads them. A
 * version's questions never change within its sequence (a change of questions is a new sequence),
 * so an entry is right for as long as its sequence is the one a reply answers; the reply handler
 * reads the event for any other. Shared by both lanes: the first batch of replies to an event
 * this coordinator opened needs no read before its counting script (one round trip fewer).
 */
export class QuestionCache {
  private readonly entries = new Map<string, VersionQuestions>();

  get(eventId: string): VersionQuestions | undefined {
    return this.entries.get(eventId);
  }

  /**
   * `applied`: the entry comes from a revision this process just applied, so it is the event's
   * version now (also for an event id used again after its state expired, at a lower sequence).
   * A read may be older than what a revision applied meanwhile: it never replaces a later version.
   */
  remember(eventId: string, entry: VersionQuestions, applied = false): void {
    const known = this.entries.get(eventId);
    if (!applied && known && known.sequence > entry.sequence) return;
    this.entries.delete(eventId);
    if (this.entries.size >= CAPACITY) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(eventId, entry);
  }
}
