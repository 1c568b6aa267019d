--[[
  Creates an event from an invitation, once. A replayed invitation (redelivery after a crash, or a
  host publishing the same id again) finds the event and changes nothing; the caller compares the
  owner and content fingerprint it gets back, so an id reused by another host application or for
  other content is refused rather than taken for a replay.

  KEYS[1] event:{id}           hash
  KEYS[2] event:{id}:invited   hash guestId -> "<agentId>\t<guest name>"
  KEYS[3] event:{id}:replies   hash
  KEYS[4] event:{id}:late      hash
  KEYS[5] event:{id}:summary   hash (outbox)
  ARGV[1] now (ms)
  ARGV[2] RSVP deadline (ms)
  ARGV[3] retention of a summarized event (ms)
  ARGV[4] summary list cap
  ARGV[5] n = number of event field pairs that follow
  ARGV[6 .. 5+2n]  event fields (id, event_name, host_id, fingerprint, ...)
  ARGV[6+2n ..]    invited guests: guestId, "<agentId>\t<name>", ...

  Output: {'created', total_invited, summary-or-false}  (summary when nobody was invited)
          {'exists', status, deadline, host_id, fingerprint}  (fingerprint false for events older than it)
]]
--- @include "finalize"
--- @include "lifetime"

if redis.call('EXISTS', KEYS[1]) == 1 then
  local ev = redis.call('HMGET', KEYS[1], 'status', 'deadline', 'host_id', 'fingerprint')
  return { 'exists', ev[1], ev[2], ev[3], ev[4] }
end

local n = tonumber(ARGV[5])
local fields = {}
for i = 6, 5 + 2 * n do
  fields[#fields + 1] = ARGV[i]
end

local invited = 0
local batch = {}
for i = 6 + 2 * n, #ARGV, 2 do
  batch[#batch + 1] = ARGV[i]
  batch[#batch + 1] = ARGV[i + 1]
  invited = invited + 1
  if #batch >= 2000 then
    redis.call('HSET', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then
  redis.call('HSET', KEYS[2], unpack(batch))
end

fields[#fields + 1] = 'status'
fields[#fields + 1] = 'open'
fields[#fields + 1] = 'total_invited'
fields[#fields + 1] = tostring(invited)
fields[#fields + 1] = 'yes_count'
fields[#fields + 1] = '0'
fields[#fields + 1] = 'no_count'
fields[#fields + 1] = '0'
fields[#fields + 1] = 'maybe_count'
fields[#fields + 1] = '0'
fields[#fields + 1] = 'invited_at'
fields[#fields + 1] = ARGV[1]
fields[#fields + 1] = 'deadline'
fields[#fields + 1] = ARGV[2]
redis.call('HSET', KEYS[1], unpack(fields))

-- finalize sets the retention when the event is summarized; until then the event lives at most
-- until its deadline plus the retention, so that an event nobody closes (every coordinator gone
-- for that long, its deadline index lost) cannot stay forever. Replies inherit this expiry.
local ttl = math.max(tonumber(ARGV[2]) - tonumber(ARGV[1]), 0) + tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
if invited > 0 then
  expire_with_event(KEYS[2])
end

if invited == 0 then
  return { 'created', 0, finalize('no_guests', tonumber(ARGV[3]), tonumber(ARGV[4])) }
end
return { 'created', invited, false }
