import type { Summary } from '../shared/schema/summary.ts';

const icon: Record<string, string> = { yes: '✅', maybe: '🤔', no: '❌' };

const percent = (part: number, whole: number): string => (whole === 0 ? '0.0%' : `${((100 * part) / whole).toFixed(1)}%`);

/**
 * The summary as the original host printed it: counts, response rate (responses / invited),
 * attendance rate (yes / invited), then one line per guest with their message.
 */
export function formatSummary(s: Summary): string {
  const lines = [
    '',
    `📊 EVENT SUMMARY — ${s.eventName || s.invitationId}`,
    `   invitation ${s.invitationId} · ${s.reason === 'deadline' ? 'closed at the RSVP deadline' : s.reason === 'no_guests' ? 'no guests were online' : 'every guest replied'}`,
    `   Total invited: ${s.totalInvited}   Responses: ${s.totalResponses}   No response: ${s.noResponse}`,
    `   ✅ Yes: ${s.yes}   🤔 Maybe: ${s.maybe}   ❌ No: ${s.no}`,
    `   Response rate: ${percent(s.totalResponses, s.totalInvited)}   Attendance rate: ${percent(s.yes, s.totalInvited)}`,
  ];
  if (s.responses.length > 0) lines.push('   Responses:');
  for (const r of [...s.responses].sort((a, b) => a.guest_name.localeCompare(b.guest_name))) {
    lines.push(`     ${icon[r.response] ?? '•'} ${r.guest_name || r.guest_id}: ${r.response.toUpperCase()}${r.message ? ` — "${r.message}"` : ''}`);
  }
  for (const g of s.noResponseGuests) lines.push(`     ⏳ ${g.guest_name || g.guest_id}: no response`);
  if (s.truncated) lines.push('   (lists truncated at the coordinator’s SUMMARY_MAX_RESPONSES; the counts are complete)');
  return `${lines.join('\n')}\n`;
}
