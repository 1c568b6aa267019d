--[[
  Applies one revision of an event (an invitation entry: the whole event as of that revision),
  once: a revision at or below the one applied is a replay and changes nothing. What it decides
  (deliveries, summaries, activity) goes into the event's outbox in the same step.

  KEYS[1..11] the event's keys (includes/event.lua)
  KEYS[12], KEYS[13] the guests and the request chunks staged for this call (event-store.ts, stage),
          used when ARGV[5]'s `staged` is set
  KEYS[14] event:{id}:fanout:r<revision>: where a cancellation keeps the guests it fans out to
  ARGV[1] now (ms)
  ARGV[2] default RSVP window (ms after the version opens)
  ARGV[3] retention after the event's last moment (ms)
  ARGV[4] summary list cap
  ARGV[5] JSON: the revision (revision, sequence, method, host_id, fingerprint, opening_problem,
          rsvp_deadline, publish_at, expires_at, start, reminders, start_reminders,
          remind_tentative, capacity, plus_ones_max, priority, questions, targeting,
          unknown_guests, event_name, published_at, traceparent, tracestate, summary_step_above:
          above this many guests a version's summary lists are built in steps, 0 never;
          fanout_step_above: above this many guests a delivery is a fan-out; guests_total: how many
          guests the targeting resolves to (ARGV[7..] names none of them when there are more than
          fanout_step_above); staged: '' or JSON {n: guests, c: chunks} staged in KEYS[12..13])
  ARGV[6] the definition's entry fields as JSON (kept per revision: deliveries carry them)
  ARGV[7..] the guests the targeting resolves to now: id, agent, name, ...

  Output: {'ok' | 'replay' | 'busy', next due (ms, -1 none), outbox (field, item, ...), handed}
        | {'dead', reason} | {'stage', -1}
  handed: a small version's summary lists' material while its summary waits for a drain
  (includes/event.lua, finish), else empty.
  stage: the revision needs every guest of a large resolution, which is not staged; nothing was
  applied. The caller stages the guests (event-store.ts, stage) and applies again.
  busy: a summary is being built in steps from the current version's keys (ev.sb); nothing was
  applied. The caller drains the outbox (which finishes the summary) and applies again. A new
  version that closes a version summarized in steps first closes it alone and answers busy.
]]
--- @include "event"

local now = tonumber(ARGV[1])
local default_ms = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local rev = cjson.decode(ARGV[5])
local revision = tonumber(rev.revision)
local sequence = tonumber(rev.sequence)
-- Checked before anything is written: a script's writes before an error stay.
local staged = staged_guests(rev.staged, 12)

local ev = load_event()
if ev then
  if ev.host_id ~= rev.host_id then
    return { 'dead', 'id_in_use: invitation id ' .. ev.id .. ' is already used by host application ' .. ev.host_id }
  end
  local seen = redis.call('HGET', K_EVENT, 'fp:' .. revision)
  if seen and seen ~= rev.fingerprint then
    return { 'dead', 'id_conflict: invitation id ' .. ev.id .. ' revision ' .. revision .. ' was already published with different content (a change is a new revision)' }
  end
  if revision <= num(ev.revision) then
    return finish(ev, now, retention, 'replay')
  end
  if ev.status == 'cancelled' then
    return { 'dead', 'cancelled: invitation ' .. ev.id .. ' is cancelled; revision ' .. revision .. ' cannot change it' }
  end
  if sequence < num(ev.sequence) then
    return { 'dead', 'invalid_sequence: revision ' .. revision .. ' has sequence ' .. sequence .. ', below the applied ' .. ev.sequence }
  end
else
  ev = { id = rev.id, host_id = rev.host_id, status = 'new', sequence = tostring(sequence) }
  for _, name in ipairs(COUNTERS) do
    ev[name] = 0
  end
end

local previous = ev.status
local old_sequence = num(ev.sequence)
local opens = rev.method == 'REQUEST' and (previous == 'new' or sequence > old_sequence)
if opens and rev.opening_problem ~= '' then
  return { 'dead', rev.opening_problem }
end
local old_capacity = num(ev.capacity)
local old_targeting = ev.targeting

-- The definition of this revision; the version's own state (deadline, invited_at) stays.
local fields = {
  'id', rev.id, 'host_id', rev.host_id, 'revision', tostring(revision), 'fp:' .. revision, rev.fingerprint,
  'def:' .. revision, ARGV[6], 'event_name', rev.event_name, 'priority', rev.priority,
  'capacity', tostring(rev.capacity), 'plus_ones_max', tostring(rev.plus_ones_max), 'questions', rev.questions,
  'reminders', rev.reminders, 'start_reminders', rev.start_reminders, 'remind_tentative', rev.remind_tentative,
  'rsvp_deadline', tostring(rev.rsvp_deadline), 'publish_at', tostring(rev.publish_at),
  'expires_at', tostring(rev.expires_at), 'start', tostring(rev.start), 'targeting', rev.targeting,
}
for _, name in ipairs({ 'event_name', 'priority', 'capacity', 'plus_ones_max', 'questions', 'reminders',
  'start_reminders', 'remind_tentative', 'rsvp_deadline', 'publish_at', 'expires_at', 'start', 'targeting',
  'summary_step_above' }) do
  ev[name] = tostring(rev[name] or '')
end
ev.fanout_step_above = tostring(rev.fanout_step_above or 0)
fields[#fields + 1] = 'summary_step_above'
fields[#fields + 1] = ev.summary_step_above
fields[#fields + 1] = 'fanout_step_above'
fields[#fields + 1] = ev.fanout_step_above
ev.revision = tostring(revision)
if previous == 'new' then
  fields[#fields + 1] = 'published_at'
  fields[#fields + 1] = tostring(rev.published_at)
  ev.published_at = tostring(rev.published_at)
  if rev.traceparent ~= '' then
    fields[#fields + 1] = 'traceparent'
    fields[#fields + 1] = rev.traceparent
    ev.traceparent = rev.traceparent
  end
  if rev.tracestate ~= '' then
    fields[#fields + 1] = 'tracestate'
    fields[#fields + 1] = rev.tracestate
    ev.tracestate = rev.tracestate
  end
end
-- Nothing of this revision is written while a summary or a fan-out's guests are read in steps
-- from the version's keys.
if (ev.sb and ev.sb ~= '') or fanout_pending(ev) then
  return finish(ev, now, retention, 'busy')
end
if opens and previous == 'open' and summary_in_steps(ev) then
  -- Closes the open version alone (its summary built in steps); the revision applies after.
  finalize(ev, 'updated', 'closed', cap)
  return finish(ev, now, retention, 'busy')
end
-- A large resolution's guests are staged only for a revision that needs them all (it opens a
-- version now, or changes the targeting in place); the caller stages them and applies again.
if not staged and rev.method ~= 'CANCEL' and num(rev.guests_total) > (#ARGV - 6) / 3 then
  local needs
  if opens or previous == 'scheduled' then
    needs = num(rev.publish_at) <= now
  else
    needs = old_targeting ~= rev.targeting
  end
  if needs then
    return { 'stage', '-1' }
  end
end
redis.call('HSET', K_EVENT, unpack(fields))

local function set_sequence()
  ev.sequence = tostring(sequence)
  redis.call('HSET', K_EVENT, 'sequence', ev.sequence)
end

-- Guests the targeting resolves to now (ARGV[7..], or the staged hash), as a set.
local function resolved()
  local set, order = {}, {}
  if staged then
    -- A targeting changed in place on a large event: still one call (docs/EVENTS.md).
    local flat = redis.call('HGETALL', staged.guests)
    for i = 1, #flat, 2 do
      local tab = string.find(flat[i + 1], '\t', 1, true)
      set[flat[i]] = { string.sub(flat[i + 1], 1, tab - 1), string.sub(flat[i + 1], tab + 1) }
      order[#order + 1] = flat[i]
    end
    return set, order
  end
  for i = 7, #ARGV, 3 do
    set[ARGV[i]] = { ARGV[i + 1], ARGV[i + 2] }
    order[#order + 1] = ARGV[i]
  end
  return set, order
end

if rev.method == 'CANCEL' then
  -- Everyone holding an invitation is told: the guests of the open or closed version, and of a
  -- scheduled one's previous version (an update that moved publish_at ahead keeps them until it
  -- publishes; an event never published has nobody here).
  local invited = {}
  local holders = 0
  if previous == 'open' or previous == 'closed' or previous == 'scheduled' then
    holders = redis.call('HLEN', K_INVITED)
  end
  local large = fans_out(ev, holders)
  if holders > 0 and not large then
    invited = redis.call('HKEYS', K_INVITED)
  end
  if previous == 'open' then
    -- The open version closes with the reason cancelled, its own sequence; its guests stay as
    -- they are (a cancelled event changes no more), so a fan-out lists them from K_INVITED.
    if large then
      fan_out(ev, 'cancel', { from = K_INVITED, only = 'all' }, { sc = 'event' })
    else
      deliver(ev, 'cancel', invited, { sc = 'event' })
    end
    finalize(ev, 'cancelled', 'cancelled', cap)
  else
    -- Nothing open: the cancellation's own sequence gets a final summary (nobody asked in it).
    if large then
      -- The guests move aside (O(1)) for the fan-out, which deletes them when done.
      redis.call('RENAME', K_INVITED, KEYS[14])
      LIFE_KEYS[#LIFE_KEYS + 1] = KEYS[14]
      fan_out(ev, 'cancel', { from = KEYS[14], only = 'all', drop = 1 }, { sc = 'event' })
    else
      deliver(ev, 'cancel', invited, { sc = 'event' })
    end
    redis.call('UNLINK', unpack(VERSION_KEYS))
    for _, name in ipairs(COUNTERS) do
      ev[name] = 0
    end
    ev.unknown_guests = '[]'
    set_sequence()
    finalize(ev, 'cancelled', 'cancelled', cap)
  end
  set_sequence()
  redis.call('HSET', K_EVENT, 'status', 'cancelled')
  return finish(ev, now, retention)
end

if opens then
  if previous == 'open' then
    finalize(ev, 'updated', 'closed', cap)
  end
  set_sequence()
  ev.unknown_guests = rev.unknown_guests
  redis.call('HSET', K_EVENT, 'unknown_guests', rev.unknown_guests)
  if num(rev.publish_at) > now then
    ev.status = 'scheduled'
    redis.call('HSET', K_EVENT, 'status', 'scheduled')
    activity(ev, 'version', {}, {})
    return finish(ev, now, retention)
  end
  open_version(ev, 7, now, default_ms, cap, staged)
  return finish(ev, now, retention)
end

-- Same sequence: the same version changes in place; nobody is asked again.
if previous == 'scheduled' then
  -- Nothing delivered yet; the targeting is resolved when it is published.
  if num(rev.publish_at) <= now then
    ev.unknown_guests = rev.unknown_guests
    redis.call('HSET', K_EVENT, 'unknown_guests', rev.unknown_guests)
    open_version(ev, 7, now, default_ms, cap, staged)
  end
  return finish(ev, now, retention)
end

if previous == 'open' and num(rev.rsvp_deadline) > 0 then
  ev.deadline = tostring(rev.rsvp_deadline)
  redis.call('HSET', K_EVENT, 'deadline', ev.deadline)
end

local changes = {}
local removed, added = {}, {}
local freed = false
if old_targeting ~= rev.targeting then
  local want, order = resolved()
  local current = redis.call('HGETALL', K_INVITED)
  local had = {}
  for i = 1, #current, 2 do
    had[current[i]] = true
    if not want[current[i]] then
      removed[#removed + 1] = current[i]
    end
  end
  for _, id in ipairs(order) do
    if not had[id] then
      added[#added + 1] = id
    end
  end
  ev.unknown_guests = rev.unknown_guests
  redis.call('HSET', K_EVENT, 'unknown_guests', rev.unknown_guests)
end

-- Details to the guests who stay.
if #removed == 0 and #added == 0 and fans_out(ev, redis.call('HLEN', K_INVITED)) then
  -- Nobody comes or goes: every guest of a large version, listed in steps (apply-revision answers
  -- busy until then, so the list is the version's guests as of now).
  fan_out(ev, 'details', { from = K_INVITED, only = 'all' })
else
  local staying = {}
  local gone = {}
  for _, id in ipairs(removed) do
    gone[id] = true
  end
  for _, id in ipairs(redis.call('HKEYS', K_INVITED)) do
    if not gone[id] then
      staying[#staying + 1] = id
    end
  end
  deliver(ev, 'details', staying, {})
end

if #removed > 0 then
  -- Removed guests get a cancellation of their own; their replies stop counting.
  deliver(ev, 'cancel', removed, { sc = 'guest' })
  local recs = hmget_many(K_REPLIES, removed)
  for i, id in ipairs(removed) do
    if recs[i] then
      if remove_effect(ev, id, cjson.decode(recs[i])) then
        freed = true
      end
      redis.call('HDEL', K_REPLIES, id)
    end
    if redis.call('HDEL', K_NEVER, id) == 1 then
      ev.never_asked_count = ev.never_asked_count - 1
    end
    redis.call('HDEL', K_INVITED, id)
    changes[#changes + 1] = guest_change(id, 'removed', 'needs_action')
  end
  ev.total_invited = ev.total_invited - #removed
end
if #added > 0 then
  local want = resolved()
  local flat = {}
  for _, id in ipairs(added) do
    flat[#flat + 1] = id
    flat[#flat + 1] = want[id][1] .. '\t' .. want[id][2]
    changes[#changes + 1] = guest_change(id, 'invited', 'needs_action')
  end
  hset_many(K_INVITED, flat)
  ev.total_invited = ev.total_invited + #added
  if num(ev.expires_at) > 0 and num(ev.expires_at) <= now then
    never_asked(ev, added)
  else
    deliver(ev, 'request', added, {})
  end
end
if #changes > 0 then
  activity(ev, 'version', changes, { deadline = num(ev.deadline) })
end
if ev.status == 'open' and (freed or num(ev.capacity) > old_capacity or old_capacity ~= 0 and num(ev.capacity) == 0) then
  announce_promotions(ev, promote(ev))
end
close_if_done(ev, cap)
return finish(ev, now, retention)
