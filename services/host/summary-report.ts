import type { Summary } from '../shared/schema/summary.ts';

const icon: Record<string, string> = { yes: '✅', maybe: '🤔', no: '❌' };

/**
 * Names and messages come from stream entries anyone may write: control characters (a terminal
 * escape sequence, a line break that fakes a line of the report) are shown, not obeyed.
 */
const shown = (text: string): string => text.replace(/\p{Cc}/gu, (c) => (c === '\n' ? '↵' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));

const percent = (part: number, whole: number): string => (whole === 0 ? '0.0%' : `${((100 * part) / whole).toFixed(1)}%`);

/**
 * The summary as the original host printed it: counts, response rate (responses / invited),
 * attendance rate (yes / invited), then one line per guest with their message.
 */
export function formatSummary(s: Summary): string {
  const lines = [
    '',
    `📊 EVENT SUMMARY — ${shown(s.eventName || s.invitationId)}`,
    `   invitation ${s.invitationId} · ${s.reason === 'deadline' ? 'closed at the RSVP deadline' : s.reason === 'no_guests' ? 'no guests were online' : 'every guest replied'}`,
    `   Total invited: ${s.totalInvited}   Responses: ${s.totalResponses}   No response: ${s.noResponse}`,
    `   ✅ Yes: ${s.yes}   🤔 Maybe: ${s.maybe}   ❌ No: ${s.no}`,
    `   Response rate: ${percent(s.totalResponses, s.totalInvited)}   Attendance rate: ${percent(s.yes, s.totalInvited)}`,
  ];
  if (s.responses.length > 0) lines.push('   Responses:');
  for (const r of [...s.responses].sort((a, b) => a.guest_name.localeCompare(b.guest_name))) {
    lines.push(`     ${icon[r.response] ?? '•'} ${shown(r.guest_name || r.guest_id)}: ${shown(r.response.toUpperCase())}${r.message ? ` — "${shown(r.message)}"` : ''}`);
  }
  for (const g of s.noResponseGuests) lines.push(`     ⏳ ${shown(g.guest_name || g.guest_id)}: no response`);
  if (s.truncated) lines.push('   (lists truncated at the coordinator’s SUMMARY_MAX_RESPONSES; the counts are complete)');
  return `${lines.join('\n')}\n`;
}
