--[[
  Counts a batch of replies to one event, idempotently per (event, guest), and decides the summary
  when the last invited guest has answered. A reply that is redelivered, sent twice or replayed
  after a crash between this script and the XACK finds its guest already recorded and changes
  nothing. Replies after the summary are kept in the late hash and change nothing either; the late
  hash expires with the event.

  KEYS[1..5] as in create-event (event, invited, replies, late, summary)
  ARGV[1] retention of a summarized event (ms)
  ARGV[2] summary list cap
  ARGV[3..] triples: guestId, response (yes|no|maybe), reply JSON

  Output: { per-reply results, summary-or-false }
    results: 'counted' | 'duplicate' | 'late' | 'not_invited'; the whole batch is {'unknown'} when
    there is no such event.
    summary: the summary fields when it was decided now or is decided but still in the outbox.
]]
--- @include "finalize"
--- @include "lifetime"

local ev = redis.call('HMGET', KEYS[1], 'status', 'total_invited', 'yes_count', 'no_count', 'maybe_count')
if not ev[1] then
  return { { 'unknown' }, false }
end

local n = (#ARGV - 2) / 3
local ids = {}
for i = 1, n do
  ids[i] = ARGV[2 + (i - 1) * 3 + 1]
end
local invited = redis.call('HMGET', KEYS[2], unpack(ids))
local previous = redis.call('HMGET', KEYS[3], unpack(ids))

local open = ev[1] == 'open'
local counts = { yes = tonumber(ev[3]), no = tonumber(ev[4]), maybe = tonumber(ev[5]) }
local results = {}
local writes = {}
local seen = {}
local late = false
for i = 1, n do
  local id = ids[i]
  local response = ARGV[2 + (i - 1) * 3 + 2]
  local json = ARGV[2 + (i - 1) * 3 + 3]
  if not invited[i] then
    results[i] = 'not_invited'
  elseif previous[i] or seen[id] then
    results[i] = 'duplicate'
  elseif not open then
    seen[id] = true
    if redis.call('HSETNX', KEYS[4], id, json) == 1 then
      results[i] = 'late'
      late = true
    else
      results[i] = 'duplicate'
    end
  else
    seen[id] = true
    writes[#writes + 1] = id
    writes[#writes + 1] = json
    counts[response] = counts[response] + 1
    results[i] = 'counted'
  end
end

if #writes > 0 then
  redis.call('HSET', KEYS[3], unpack(writes))
  redis.call('HSET', KEYS[1], 'yes_count', counts.yes, 'no_count', counts.no, 'maybe_count', counts.maybe)
  expire_with_event(KEYS[3])
end
-- The summary's finalize set the expiry of the event's keys before this one existed.
if late then
  expire_with_event(KEYS[4])
end

local summary = false
if open and counts.yes + counts.no + counts.maybe >= tonumber(ev[2]) then
  summary = finalize('all_replied', tonumber(ARGV[1]), tonumber(ARGV[2]))
elseif not open and redis.call('EXISTS', KEYS[5]) == 1 then
  summary = redis.call('HGETALL', KEYS[5])
end
return { results, summary }
