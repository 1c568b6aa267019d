--[[
  Does what is due for one event at `now` (docs/EVENTS.md, "Time and routing"), once whoever runs
  it: publishes a scheduled version at publish_at, sends each reminder once per (sequence,
  reminder) to the guests still at NEEDS-ACTION (and TENTATIVE with remind_tentative), each start
  reminder once to the confirmed guests, and closes the open version at its deadline. A reminder
  whose time came while the version was not open is skipped, not sent late. Every coordinator
  sweeps the timer index; the first to run this script for a due moment does the work.

  KEYS[1..11] the event's keys (includes/event.lua)
  KEYS[12], KEYS[13] the guests and request chunks staged for a large publication (event-store.ts)
  ARGV[1] now (ms)
  ARGV[2] default RSVP window (ms after the version opens)
  ARGV[3] retention after the event's last moment (ms)
  ARGV[4] summary list cap
  ARGV[5] '1' when the guests to publish to follow, '0' when not resolved (yet)
  ARGV[6] unknown guest ids (JSON) of that resolution
  ARGV[7] '' or JSON {n: guests, c: chunks} staged in KEYS[12..13] (ARGV[8..] then names none)
  ARGV[8..] the guests the targeting resolves to now: id, agent, name, ...

  Output: {'ok', next due, outbox (field, item, ...), handed} | {'need_guests', definition JSON} | {'gone'}
  handed: as apply-revision's (includes/event.lua, finish).
]]
--- @include "event"

local now = tonumber(ARGV[1])
local default_ms = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])

-- Checked before anything is written: a script's writes before an error stay.
local staged = staged_guests(ARGV[7], 12)
local ev = load_event()
if not ev or ev.status == 'new' then
  return { 'gone' }
end
local seq = tostring(num(ev.sequence))

if ev.status == 'scheduled' and num(ev.publish_at) <= now then
  if ARGV[5] ~= '1' then
    return { 'need_guests', ev.targeting or '' }
  end
  ev.unknown_guests = ARGV[6]
  redis.call('HSET', K_EVENT, 'unknown_guests', ARGV[6])
  open_version(ev, 8, now, default_ms, cap, staged)
end

local function remind(kind, marker, minutes, ids)
  local n = deliver(ev, kind, ids, { rm = minutes })
  if kind == 'reminder' then
    ev.reminders_sent = ev.reminders_sent + n
  end
  local changes = {}
  for i = 1, math.min(#ids, ACTIVITY_GUESTS) do
    changes[i] = { guest_id = ids[i], outcome = 'reminded', state = kind == 'reminder' and 'needs_action' or 'accepted' }
  end
  activity(ev, 'reminder', changes, { reminder = minutes })
end

-- Reply reminders, earliest (most minutes before the deadline) first.
if ev.status == 'open' then
  local minutes = decode_list(ev.reminders)
  table.sort(minutes, function(a, b) return a > b end)
  local tentative = ev.remind_tentative == 'true' or ev.remind_tentative == '1'
  for _, m in ipairs(minutes) do
    local at = num(ev.deadline) - m * 60000
    if at <= now and redis.call('SADD', K_DONE, 's' .. seq .. ':r:' .. m) == 1 and at >= num(ev.invited_at) then
      if fans_out(ev, redis.call('HLEN', K_INVITED)) then
        -- A large version: the coordinator lists the guests to remind in steps and counts them
        -- in reminders_sent (outbox.ts).
        fan_out(ev, 'reminder', { from = K_INVITED, only = tentative and 'remind_tentative' or 'remind' }, { rm = m })
        activity(ev, 'reminder', {}, { reminder = m })
      else
        local invited = redis.call('HKEYS', K_INVITED)
        local recs = hmget_many(K_REPLIES, invited)
        local never = hmget_many(K_NEVER, invited)
        local ids = {}
        for i, id in ipairs(invited) do
          if not never[i] then
            if not recs[i] then
              ids[#ids + 1] = id
            elseif tentative and cjson.decode(recs[i]).response == 'maybe' then
              ids[#ids + 1] = id
            end
          end
        end
        remind('reminder', 'r', m, ids)
      end
    end
  end
  if num(ev.deadline) <= now then
    finalize(ev, 'deadline', 'closed', cap)
  end
end

-- Start reminders go to confirmed guests, while the version is open or after it closed.
if (ev.status == 'open' or ev.status == 'closed') and num(ev.start) > 0 then
  local minutes = decode_list(ev.start_reminders)
  table.sort(minutes, function(a, b) return a > b end)
  for _, m in ipairs(minutes) do
    local at = num(ev.start) - m * 60000
    if at <= now and redis.call('SADD', K_DONE, 's' .. seq .. ':sr:' .. m) == 1 and at >= num(ev.invited_at) then
      if fans_out(ev, redis.call('HLEN', K_REPLIES)) then
        -- Many replies: the coordinator lists the confirmed guests in steps (outbox.ts).
        fan_out(ev, 'start_reminder', { from = K_REPLIES, only = 'start' }, { rm = m })
        activity(ev, 'reminder', {}, { reminder = m })
      else
        local flat = redis.call('HGETALL', K_REPLIES)
        local ids = {}
        for i = 1, #flat, 2 do
          if cjson.decode(flat[i + 1]).response == 'yes' and not waitlisted(flat[i]) then
            ids[#ids + 1] = flat[i]
          end
        end
        remind('start_reminder', 'sr', m, ids)
      end
      -- Told that the event starts soon: their seats are no longer anybody else's to take.
      redis.call('UNLINK', K_SEATED)
    end
  end
end

return finish(ev, now, retention)
