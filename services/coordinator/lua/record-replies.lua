--[[
  Records a batch of replies and expiry receipts to one event (docs/EVENTS.md, "Attendance"), in
  arrival order, in one step: however many coordinators race, seats are given under the capacity
  and the waitlist keeps the order of arrival. A reply counts once per (guest, sequence, reply_rev):
  a redelivered or replayed one changes nothing.

  KEYS[1..11] the event's keys (includes/event.lua)
  ARGV[1] now (ms)
  ARGV[2] retention after the event's last moment (ms)
  ARGV[3] summary list cap
  ARGV[4..] per item 11 values: kind (reply|receipt), guest id, sequence, reply id, arrival score,
          rejection reason ('' when the answers fit the questions), response (yes|no|maybe),
          reply_rev, plus_ones, the activity's members for the reply (JSON object members without
          braces: guest_name, reply_rev, plus_ones, answers, message), reply JSON as stored (the
          original's fields plus reply_rev, plus_ones, answers, arrival). A receipt's last five
          are '', 0, 0, '', '{}'. What the script needs of a new reply comes as plain values:
          nothing of it is decoded here.

  Output: { per-item results, next due, outbox (field, item, ...), handed }
    handed: when this call closed a version of at most HAND_OFF_MAX guests, or met one whose
            summary still waits for its drain, the raw material of its summary's lists
            (includes/event.lua, finalize and finish): { summary once-key, invited (HGETALL),
            replies (HGETALL), never (HGETALL), waitlist (ZRANGE) }; else empty.
    results: counted | changed | duplicate | outdated | stale | late | rejected | never_asked |
             ignored | not_invited | unknown_sequence; all 'unknown' when there is no such event.
]]
--- @include "event"

local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local W = 11
local n = (#ARGV - 3) / W

local ev = load_event()
if not ev or ev.status == 'new' then
  local results = {}
  for i = 1, n do
    results[i] = 'unknown'
  end
  return { results, '-1', {} }
end

local current = num(ev.sequence)
-- A cancellation raised the sequence, but replies to the version it closed are late, not stale.
if ev.status == 'cancelled' and ev.opened_sequence and redis.call('EXISTS', K_INVITED) == 1 then
  current = num(ev.opened_sequence)
end
local open = ev.status == 'open'
local max_plus = num(ev.plus_ones_max)
local results = {}
local changes = {}
local promoted = {}

-- The batch's guests read in two calls, not per reply; counted replies written in one call at the
-- end (`replies` keeps each guest's latest within the batch).
local ids = {}
for i = 1, n do
  ids[i] = ARGV[3 + (i - 1) * W + 2]
end
local invited = {}
local replies = {}
do
  local homes = hmget_many(K_INVITED, ids)
  local recs = hmget_many(K_REPLIES, ids)
  for i, id in ipairs(ids) do
    invited[id] = homes[i] ~= false and homes[i] ~= nil
    if recs[i] then
      replies[id] = recs[i]
    end
  end
end
local written = {}

local function record(i, result, change)
  results[i] = result
  if change and #changes < ACTIVITY_GUESTS then
    changes[#changes + 1] = change
  end
end

for i = 1, n do
  local base = 3 + (i - 1) * W
  local kind, id, seq, reply_id = ARGV[base + 1], ARGV[base + 2], tonumber(ARGV[base + 3]), ARGV[base + 4]
  local arrival, reason, json = tonumber(ARGV[base + 5]), ARGV[base + 6], ARGV[base + 11]
  if seq > current or (seq == current and ev.status == 'scheduled') then
    record(i, 'unknown_sequence')
  elseif seq < current then
    -- Answers an earlier version: kept, not counted.
    if kind == 'receipt' then
      record(i, 'ignored')
    elseif redis.call('HSETNX', K_STALE, reply_id, json) == 1 then
      ev.stale_count = ev.stale_count + 1
      record(i, 'stale', { guest_id = id, outcome = 'stale', state = 'needs_action' })
    else
      record(i, 'duplicate')
    end
  elseif not invited[id] then
    record(i, kind == 'receipt' and 'ignored' or 'not_invited')
  elseif kind == 'receipt' then
    -- An expired delivery: never asked, once, unless the guest already answered.
    if not open then
      record(i, 'ignored')
    elseif not replies[id] and #never_asked(ev, { id }) == 1 then
      record(i, 'never_asked', { guest_id = id, outcome = 'never_asked', state = 'never_asked' })
    else
      record(i, 'ignored')
    end
  elseif not open then
    local counted = replies[id]
    if counted and cjson.decode(counted).id == reply_id then
      record(i, 'duplicate')
    elseif redis.call('HSETNX', K_LATE, reply_id, json) == 1 then
      ev.late_count = ev.late_count + 1
      record(i, 'late', { guest_id = id, outcome = 'late', state = 'needs_action' })
    else
      record(i, 'duplicate')
    end
  else
    local rec = { response = ARGV[base + 7], reply_rev = tonumber(ARGV[base + 8]), plus_ones = tonumber(ARGV[base + 9]) }
    local prev_json = replies[id]
    local prev = prev_json and cjson.decode(prev_json)
    local rev = num(rec.reply_rev)
    -- Of two replies with the same reply_rev, the later arrival (stream order, `arrival`) wins,
    -- whichever batch reaches this script first; an earlier one is outdated.
    local same_rev = rev == num(prev and prev.reply_rev)
    if prev and (rev < num(prev.reply_rev) or (same_rev and (reply_id == prev.id or arrival < num(prev.arrival)))) then
      record(i, (same_rev and reply_id == prev.id) and 'duplicate' or 'outdated')
    else
      if reason == '' and num(rec.plus_ones) > max_plus then
        reason = 'invalid_plus_ones: ' .. rec.plus_ones .. ' plus-ones, at most ' .. max_plus .. ' allowed'
      end
      if reason ~= '' then
        if redis.call('HSETNX', K_REJECTED, reply_id, reason) == 1 then
          ev.rejected_count = ev.rejected_count + 1
          record(i, 'rejected', { guest_id = id, outcome = 'rejected', state = prev and STATE_OF[prev.response] or 'needs_action', reason = reason, reply_rev = rev })
        else
          record(i, 'duplicate')
        end
      else
        local freed = false
        local arrival_at = arrival
        if prev then
          -- A waitlisted guest who still accepts keeps its place in line.
          local place = prev.response == 'yes' and ev.waitlisted_count > 0 and redis.call('ZSCORE', K_WAIT, id)
          if place and rec.response == 'yes' and num(rec.plus_ones) == num(prev.plus_ones) then
            arrival_at = tonumber(place)
          end
          freed = remove_effect(ev, id, prev)
        elseif ev.never_asked_count > 0 and redis.call('HDEL', K_NEVER, id) == 1 then
          ev.never_asked_count = ev.never_asked_count - 1
        end
        replies[id] = json
        if not written[id] then
          written[id] = true
          written[#written + 1] = id
        end
        -- promote() reads the waitlisted guests' replies from the hash: keep it current for them.
        if num(ev.capacity) > 0 then
          redis.call('HSET', K_REPLIES, id, json)
        end
        local displaced = add_effect(ev, id, rec, arrival_at)
        local extra = nil
        if rec.response == 'yes' and ev.waitlisted_count > 0 and waitlisted(id) then
          extra = { waitlist = redis.call('ZRANK', K_WAIT, id) + 1 }
        end
        -- guest_change's entry, as text: the reply's own members come encoded (ARGV).
        local outcome = prev and 'changed' or 'counted'
        record(i, outcome, '{"guest_id":' .. cjson.encode(id) .. ',"outcome":"' .. outcome .. '","state":"' .. STATE_OF[rec.response] .. '"'
          .. (extra and (',"waitlist":' .. extra.waitlist) or '') .. ',' .. ARGV[base + 10] .. '}')
        if #displaced > 0 then
          local recs = hmget_many(K_REPLIES, displaced)
          for j, d in ipairs(displaced) do
            if #changes < ACTIVITY_GUESTS then
              changes[#changes + 1] = guest_change(d, 'displaced', 'accepted', recs[j] and cjson.decode(recs[j]), { waitlist = redis.call('ZRANK', K_WAIT, d) + 1 })
            end
          end
          -- With plus-ones, the seats freed may be more than it took: the next in line who fit get them.
          freed = true
        end
        if freed then
          for _, p in ipairs(promote(ev)) do
            promoted[#promoted + 1] = p
          end
        end
      end
    end
  end
end

if #written > 0 and num(ev.capacity) == 0 then
  local flat = {}
  for _, id in ipairs(written) do
    flat[#flat + 1] = id
    flat[#flat + 1] = replies[id]
  end
  hset_many(K_REPLIES, flat)
end
if #changes > 0 then
  activity(ev, 'replies', changes)
end
announce_promotions(ev, promoted)
HAND_OFF_LISTS = true
close_if_done(ev, cap)
local out = finish(ev, now, retention)
out[1] = results
return out
