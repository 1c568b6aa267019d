--[[
  The event model's state machine (docs/EVENTS.md), shared by apply-revision, record-replies and
  tick-event. Every key of one event shares its {id} hash tag:
  KEYS[1]  event:{id}            hash: definition of the applied revision, status, counters
  KEYS[2]  event:{id}:invited    hash guestId -> "<agentId>\t<name>" (the current version's guests)
  KEYS[3]  event:{id}:replies    hash guestId -> reply JSON (the latest counted reply)
  KEYS[4]  event:{id}:late       hash reply id -> reply JSON (after the version closed)
  KEYS[5]  event:{id}:outbox     hash <fx> -> decided message (delivery, summary, activity)
  KEYS[6]  event:{id}:waitlist   zset guestId scored by arrival
  KEYS[7]  event:{id}:stale      hash reply id -> reply JSON (answers an older sequence)
  KEYS[8]  event:{id}:rejected   hash reply id -> reason
  KEYS[9]  event:{id}:never      hash guestId -> why never asked (expired)
  KEYS[10] event:{id}:done       set of timers done: s<seq>:r:<m> (reminder), s<seq>:sr:<m> (start reminder)
  KEYS[11] event:{id}:seated     zset guestId scored by arrival: guests seated by their own acceptance
                                 and told nothing since (an earlier arrival recorded later may take their seat)

  The outbox holds what a script decided and is not yet on its stream; the coordinator adds each
  item under its once-key and removes it after. Nothing else leaves a script.
]]
local K_EVENT, K_INVITED, K_REPLIES, K_LATE, K_OUTBOX = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_WAIT, K_STALE, K_REJECTED, K_NEVER, K_DONE = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_SEATED = KEYS[11]

local COUNTERS = { 'total_invited', 'yes_count', 'no_count', 'maybe_count', 'confirmed_count', 'headcount',
  'waitlisted_count', 'stale_count', 'late_count', 'rejected_count', 'reminders_sent', 'never_asked_count' }
local VERSION_KEYS = { K_INVITED, K_REPLIES, K_LATE, K_WAIT, K_STALE, K_REJECTED, K_NEVER, K_SEATED }
local STATE_OF = { yes = 'accepted', no = 'declined', maybe = 'tentative' }
-- Lists of guests in one activity entry at most (the counts are always complete).
local ACTIVITY_GUESTS = 2000

local function num(x)
  return tonumber(x) or 0
end

local function load_event()
  local flat = redis.call('HGETALL', K_EVENT)
  if #flat == 0 then
    return nil
  end
  local ev = {}
  for i = 1, #flat, 2 do
    ev[flat[i]] = flat[i + 1]
  end
  for _, name in ipairs(COUNTERS) do
    ev[name] = num(ev[name])
  end
  return ev
end

local function save_counts(ev)
  local args = {}
  for _, name in ipairs(COUNTERS) do
    args[#args + 1] = name
    args[#args + 1] = tostring(ev[name])
  end
  redis.call('HSET', K_EVENT, unpack(args))
end

local function json_list(encoded)
  return '[' .. table.concat(encoded, ',') .. ']'
end

local function encode_ids(ids)
  local out = {}
  for i, id in ipairs(ids) do
    out[i] = cjson.encode(id)
  end
  return json_list(out)
end

local function decode_list(text)
  if not text or text == '' then
    return {}
  end
  return cjson.decode(text)
end

-- HMGET of any number of fields (Lua's unpack takes at most a few thousand values).
local function hmget_many(key, ids)
  local out = {}
  for i = 1, #ids, 1000 do
    local slice = {}
    for k = i, math.min(i + 999, #ids) do
      slice[#slice + 1] = ids[k]
    end
    local got = redis.call('HMGET', key, unpack(slice))
    for k = 1, #got do
      out[#out + 1] = got[k]
    end
  end
  return out
end

local function hset_many(key, flat)
  for i = 1, #flat, 2000 do
    local slice = {}
    for k = i, math.min(i + 1999, #flat) do
      slice[#slice + 1] = flat[k]
    end
    redis.call('HSET', key, unpack(slice))
  end
end

local function outbox(ev, item)
  local fx = redis.call('HINCRBY', K_EVENT, 'fx', 1)
  item.key = item.key or (ev.id .. ':' .. fx)
  redis.call('HSET', K_OUTBOX, string.format('%012d', fx), cjson.encode(item))
  return fx
end

--[[
  Fan-outs: a delivery to more guests than the event's fanout_step_above is one outbox item (k = 'f')
  that the coordinator expands in bounded steps (outbox.ts), so that no script reads or writes
  every guest of a large event (docs/EVENTS.md, "Large events in steps"). Its chunks (agent, up to
  500 guests) live in a hash `src` (field n: how many; field %09d: chunk i), each delivered under
  the once-key <item key>:<i>. Either the chunks exist already (`src`: staged by the coordinator
  before the script) or they are listed by the coordinator from the hash `from` (`only`: which of
  its guests) into `event:{id}:fanout:<fx>`; until then the event holds `fo:<fx>` and
  apply-revision answers busy, so `from` does not change under the listing.
]]
-- Keys made by this call that live as long as the event's own (extend_life).
local LIFE_KEYS = {}

-- True when a list of `n` guests is delivered by a fan-out rather than listed here.
local function fans_out(ev, n)
  local above = num(ev.fanout_step_above)
  return above > 0 and n > above
end

-- True while a fan-out's guests are still to be listed from the event's keys.
local function fanout_pending(ev)
  for name in pairs(ev) do
    if string.sub(name, 1, 3) == 'fo:' then
      return true
    end
  end
  return false
end

local function fan_out(ev, dtype, spec, extra)
  local item = { k = 'f', t = dtype, s = num(ev.sequence), r = num(ev.revision), dl = num(ev.deadline),
    p = ev.priority or 'normal' }
  for k, v in pairs(extra or {}) do
    item[k] = v
  end
  for k, v in pairs(spec) do
    item[k] = v
  end
  if dtype == 'request' and num(ev.expires_at) > 0 then
    item.x = num(ev.expires_at)
  end
  local fx = outbox(ev, item)
  if not spec.src then
    ev['fo:' .. fx] = '1'
    redis.call('HSET', K_EVENT, 'fo:' .. fx, '1')
  end
end

local function counts_of(ev)
  return {
    invited = ev.total_invited, accepted = ev.yes_count, declined = ev.no_count, tentative = ev.maybe_count,
    needs_action = math.max(ev.total_invited - ev.yes_count - ev.no_count - ev.maybe_count - ev.never_asked_count, 0),
    confirmed = ev.confirmed_count, headcount = ev.headcount, waitlisted = ev.waitlisted_count,
    stale = ev.stale_count, late = ev.late_count, rejected = ev.rejected_count,
    reminders_sent = ev.reminders_sent, never_asked = ev.never_asked_count,
  }
end

local function public_status(ev)
  return ev.status
end

-- event_activity entries (docs/EVENTS.md): per-guest changes (at most ACTIVITY_GUESTS per step, in
-- entries of ACTIVITY_CHUNK so each stays well within a field's length) and the absolute counts.
-- A guest change is a table, or its JSON text already (record-replies builds a counted reply's
-- from members the coordinator encoded: no table and no encode per reply here).
local ACTIVITY_CHUNK = 100
local function activity(ev, kind, guests, extra)
  local e = { invitation_id = ev.id, host_id = ev.host_id or '', sequence = num(ev.sequence), revision = num(ev.revision),
    status = public_status(ev), counts = counts_of(ev) }
  for k, v in pairs(extra or {}) do
    e[k] = v
  end
  -- The item as outbox() would encode it, written by hand: `e` encoded once for every chunk.
  local head = '{"k":"a","t":' .. cjson.encode(kind) .. ',"e":' .. cjson.encode(e) .. ',"key":'
  local total = math.min(#guests, ACTIVITY_GUESTS)
  local first = 1
  repeat
    local list = {}
    for i = first, math.min(first + ACTIVITY_CHUNK - 1, total) do
      local g = guests[i]
      list[#list + 1] = type(g) == 'string' and g or cjson.encode(g)
    end
    local fx = redis.call('HINCRBY', K_EVENT, 'fx', 1)
    redis.call('HSET', K_OUTBOX, string.format('%012d', fx), head .. cjson.encode(ev.id .. ':' .. fx) .. ',"g":' .. json_list(list) .. '}')
    first = first + ACTIVITY_CHUNK
  until first > total
end

-- Deliveries of one type to the named guests: one outbox item per agent and chunk (at most 500
-- guests and a JSON list within one field's length). Returns the number of guests named.
local function deliver(ev, dtype, ids, extra)
  if #ids == 0 then
    return 0
  end
  local homes = hmget_many(K_INVITED, ids)
  local by_agent, agents = {}, {}
  for i, id in ipairs(ids) do
    local home = homes[i]
    if home then
      local agent = string.sub(home, 1, string.find(home, '\t', 1, true) - 1)
      if not by_agent[agent] then
        by_agent[agent] = {}
        agents[#agents + 1] = agent
      end
      table.insert(by_agent[agent], id)
    end
  end
  table.sort(agents)
  local n = 0
  for _, agent in ipairs(agents) do
    local chunk, length = {}, 2
    local function flush()
      if #chunk == 0 then
        return
      end
      local item = { k = 'd', t = dtype, a = agent, g = chunk, s = num(ev.sequence), r = num(ev.revision),
        dl = num(ev.deadline), p = ev.priority or 'normal' }
      for k, v in pairs(extra or {}) do
        item[k] = v
      end
      if dtype == 'request' and num(ev.expires_at) > 0 then
        item.x = num(ev.expires_at)
      end
      outbox(ev, item)
      n = n + #chunk
      chunk, length = {}, 2
    end
    for _, id in ipairs(by_agent[agent]) do
      local size = #id + 3
      if #chunk >= 500 or length + size > 8000 then
        flush()
      end
      chunk[#chunk + 1] = id
      length = length + size
    end
    flush()
  end
  return n
end

local function guest_change(id, outcome, state, rec, extra)
  local g = { guest_id = id, outcome = outcome, state = state }
  if rec then
    g.guest_name = rec.guest_name
    g.reply_rev = rec.reply_rev
    g.plus_ones = rec.plus_ones
    g.answers = rec.answers
    g.message = rec.message
  end
  for k, v in pairs(extra or {}) do
    g[k] = v
  end
  return g
end

local function waitlisted(id)
  return redis.call('ZSCORE', K_WAIT, id) ~= false
end

--[[ Seats: confirmed guests + plus-ones never exceed the capacity (0 = unlimited). ]]
local function fits(ev, people)
  local cap = num(ev.capacity)
  return cap == 0 or ev.headcount + people <= cap
end

-- Promotes waitlisted guests who now fit, in arrival order; returns their ids.
local function promote(ev)
  local promoted = {}
  local cap = num(ev.capacity)
  if ev.waitlisted_count == 0 or (cap > 0 and ev.headcount >= cap) then
    return promoted
  end
  local first = redis.call('ZRANGE', K_WAIT, 0, 999)
  if #first == 0 then
    return promoted
  end
  local recs = hmget_many(K_REPLIES, first)
  for i, id in ipairs(first) do
    local people = 1
    if recs[i] then
      people = 1 + num(cjson.decode(recs[i]).plus_ones)
    end
    if fits(ev, people) then
      redis.call('ZREM', K_WAIT, id)
      ev.waitlisted_count = ev.waitlisted_count - 1
      ev.confirmed_count = ev.confirmed_count + 1
      ev.headcount = ev.headcount + people
      promoted[#promoted + 1] = id
    end
    if cap > 0 and ev.headcount >= cap then
      break
    end
  end
  return promoted
end

local function announce_promotions(ev, promoted)
  if #promoted == 0 then
    return
  end
  deliver(ev, 'promoted', promoted, {})
  local changes = {}
  for i, id in ipairs(promoted) do
    changes[i] = guest_change(id, 'promoted', 'accepted')
  end
  activity(ev, 'promoted', changes)
end

-- Takes a counted reply's effect away (before a change, a removal); true when seats were freed.
local function remove_effect(ev, id, rec)
  ev[rec.response .. '_count'] = ev[rec.response .. '_count'] - 1
  if rec.response ~= 'yes' then
    return false
  end
  if redis.call('ZREM', K_WAIT, id) == 1 then
    ev.waitlisted_count = ev.waitlisted_count - 1
    return false
  end
  ev.confirmed_count = ev.confirmed_count - 1
  ev.headcount = ev.headcount - 1 - num(rec.plus_ones)
  redis.call('ZREM', K_SEATED, id)
  return true
end

--[[
  Seats follow arrival (docs/EVENTS.md, "Arrival order of seats"). Two coordinators may record two
  batches of one burst in the opposite order, so an acceptance that does not fit may have arrived
  before guests already seated. It takes the seats of the latest of them who were seated by their
  own acceptance and told nothing since (`seated`; a promoted guest was told and keeps its seat),
  if enough of them arrived after it; they go to the waitlist at their own arrival. A capacity
  lowered below the headcount demotes nobody, so nothing is taken then. Returns the guests moved.
]]
local function displace_later(ev, people, arrival)
  local cap = num(ev.capacity)
  if cap == 0 or people > cap or ev.headcount > cap then
    return {}
  end
  local need = ev.headcount + people - cap
  -- Each guest frees at least one place: `need` of them at most, latest first.
  -- %.17g: Lua's own number-to-text keeps 14 digits, and arrival scores have 16.
  local later = redis.call('ZREVRANGEBYSCORE', K_SEATED, '+inf', string.format('(%.17g', arrival), 'WITHSCORES', 'LIMIT', 0, need)
  if #later == 0 then
    return {}
  end
  local ids = {}
  for i = 1, #later, 2 do
    ids[#ids + 1] = later[i]
  end
  local recs = hmget_many(K_REPLIES, ids)
  local sizes, freed, take = {}, 0, 0
  for i = 1, #ids do
    sizes[i] = 1 + (recs[i] and num(cjson.decode(recs[i]).plus_ones) or 0)
    freed = freed + sizes[i]
    take = i
    if freed >= need then
      break
    end
  end
  if freed < need then
    return {}
  end
  local moved = {}
  for i = 1, take do
    redis.call('ZREM', K_SEATED, ids[i])
    redis.call('ZADD', K_WAIT, later[2 * i], ids[i])
    ev.confirmed_count = ev.confirmed_count - 1
    ev.headcount = ev.headcount - sizes[i]
    ev.waitlisted_count = ev.waitlisted_count + 1
    moved[i] = ids[i]
  end
  return moved
end

-- Counts a reply; an acceptance gets a seat if it fits (taking those of later arrivals not told
-- yet if need be), else a place on the waitlist at `arrival`. Returns the guests it displaced.
local function add_effect(ev, id, rec, arrival)
  ev[rec.response .. '_count'] = ev[rec.response .. '_count'] + 1
  if rec.response ~= 'yes' then
    return {}
  end
  local people = 1 + num(rec.plus_ones)
  local displaced = {}
  if not fits(ev, people) then
    displaced = displace_later(ev, people, arrival)
  end
  if fits(ev, people) then
    ev.confirmed_count = ev.confirmed_count + 1
    ev.headcount = ev.headcount + people
    if num(ev.capacity) > 0 then
      redis.call('ZADD', K_SEATED, arrival, id)
    end
  else
    redis.call('ZADD', K_WAIT, arrival, id)
    ev.waitlisted_count = ev.waitlisted_count + 1
  end
  return displaced
end

local function summary_lists(ev, cap)
  local invited = redis.call('HGETALL', K_INVITED)
  local replies = {}
  local flat = redis.call('HGETALL', K_REPLIES)
  for i = 1, #flat, 2 do
    replies[flat[i]] = cjson.decode(flat[i + 1])
  end
  local never = {}
  flat = redis.call('HGETALL', K_NEVER)
  for i = 1, #flat, 2 do
    never[flat[i]] = true
  end
  local wait = redis.call('ZRANGE', K_WAIT, 0, -1)
  local place = {}
  for i, id in ipairs(wait) do
    place[id] = i
  end
  local questions = decode_list(ev.questions)
  local tally = {}
  local out = { responses = {}, missing = {}, never = {}, attendees = {}, truncated = false }
  local names = { 'id', 'invitation_id', 'guest_name', 'guest_id', 'response', 'message', 'timestamp' }
  for i = 1, #invited, 2 do
    local id = invited[i]
    local home = invited[i + 1]
    local tab = string.find(home, '\t', 1, true)
    local name = tab and string.sub(home, tab + 1) or id
    local rec = replies[id]
    local state = 'needs_action'
    local att = { guest_id = id, guest_name = name, plus_ones = 0 }
    if rec then
      state = STATE_OF[rec.response]
      att.plus_ones = num(rec.plus_ones)
      att.answers = rec.answers
      att.waitlist = place[id]
      if #out.responses < cap then
        local o = {}
        for _, n in ipairs(names) do
          o[n] = rec[n] or ''
        end
        out.responses[#out.responses + 1] = cjson.encode(o)
      else
        out.truncated = true
      end
      local counted = (rec.response == 'yes' and not place[id]) or rec.response == 'maybe'
      if counted and type(rec.answers) == 'table' then
        for _, q in ipairs(questions) do
          local a = rec.answers[q.id]
          if q.type ~= 'text' and a ~= nil then
            tally[q.id] = tally[q.id] or {}
            local values = type(a) == 'table' and a or { (a == true and 'yes') or (a == false and 'no') or a }
            for _, v in ipairs(values) do
              tally[q.id][v] = (tally[q.id][v] or 0) + 1
            end
          end
        end
      end
    elseif never[id] then
      state = 'never_asked'
      if #out.never < cap then
        out.never[#out.never + 1] = cjson.encode({ guest_id = id, guest_name = name })
      end
    elseif #out.missing < cap then
      out.missing[#out.missing + 1] = cjson.encode({ guest_id = id, guest_name = name })
    else
      out.truncated = true
    end
    att.state = state
    if #out.attendees < cap then
      out.attendees[#out.attendees + 1] = cjson.encode(att)
    end
  end
  local aggregate = '{}'
  if next(tally) then
    aggregate = cjson.encode(tally)
  end
  return out, encode_ids(wait), aggregate
end

local function rate(part, whole)
  if whole == 0 then
    return '0'
  end
  return string.format('%.4f', part / whole)
end

--[[
  Closes the current version: writes its summary (once per (event, sequence): the outbox item's
  once-key is summary:<id>:<sequence>) and the `closed` activity, and sets the status.
]]
-- True when the version's summary is built in steps (summary-builder.ts) rather than here: its
-- lists read every guest and reply, and above a few thousand guests one script doing that keeps
-- every other client of Redis waiting (45 ms at 10,000 guests, measured).
local function summary_in_steps(ev)
  local above = num(ev.summary_step_above)
  return above > 0 and ev.total_invited > above
end

-- The summary fields that list guests (built by summary_lists, or in steps by the coordinator).
local SUMMARY_LISTS = { responses = true, no_response = true, responses_truncated = true, waitlist = true,
  never_asked = true, answers = true, attendees = true }

--[[
  Set by record-replies before it may close a version: a small version's lists are then not
  encoded here either (decoding every reply and encoding three lists was ~13 µs of Redis time per
  guest, the largest part of the closing call). The version's keys are read raw into HANDED and
  go back with the script's answer; the coordinator builds the lists from them exactly as in steps
  (summary-builder.ts) and adds the summary without reading anything. The outbox holds the same
  stepped item (`b`, with `sb` set), so a coordinator that dies before adding it leaves a summary
  that the next call of the event's scripts hands back again (finish), or that a drain with no
  call before it builds in steps from the same, unchanged keys.
]]
local HAND_OFF_LISTS = false
local HAND_OFF_MAX = 1000
local HANDED = nil

-- The raw material of summary `key`'s lists: the version's keys as they are (nothing changes them
-- while `sb` names the summary).
local function hand_lists(key)
  return { key, redis.call('HGETALL', K_INVITED), redis.call('HGETALL', K_REPLIES), redis.call('HGETALL', K_NEVER),
    redis.call('ZRANGE', K_WAIT, 0, -1) }
end

local function finalize(ev, reason, status, cap)
  local stepped = summary_in_steps(ev)
  local handoff = not stepped and HAND_OFF_LISTS and ev.total_invited <= HAND_OFF_MAX
  stepped = stepped or handoff
  local lists, wait, aggregate
  if stepped then
    lists, wait, aggregate = { responses = {}, missing = {}, never = {}, attendees = {}, truncated = false }, '[]', '{}'
  else
    lists, wait, aggregate = summary_lists(ev, cap)
  end
  local answered = ev.yes_count + ev.no_count + ev.maybe_count
  local total = ev.total_invited
  local seq = tostring(num(ev.sequence))
  local summary = {
    'id', 'summary:' .. ev.id .. ':' .. seq,
    'invitation_id', ev.id,
    'host_id', ev.host_id or '',
    'event_name', ev.event_name or '',
    'total_invited', tostring(total),
    'total_responses', tostring(answered),
    'yes_count', tostring(ev.yes_count),
    'no_count', tostring(ev.no_count),
    'maybe_count', tostring(ev.maybe_count),
    'no_response_count', tostring(math.max(total - answered, 0)),
    'responses', json_list(lists.responses),
    'no_response', json_list(lists.missing),
    'responses_truncated', lists.truncated and '1' or '0',
    'reason', reason,
    'invited_at', ev.invited_at or '0',
    'published_at', ev.published_at or ev.invited_at or '0',
    'sequence', seq,
    'revision', tostring(num(ev.revision)),
    'accepted_count', tostring(ev.yes_count),
    'declined_count', tostring(ev.no_count),
    'tentative_count', tostring(ev.maybe_count),
    'needs_action_count', tostring(math.max(total - answered - ev.never_asked_count, 0)),
    'confirmed_count', tostring(ev.confirmed_count),
    'headcount', tostring(ev.headcount),
    'capacity', tostring(num(ev.capacity)),
    'waitlisted_count', tostring(ev.waitlisted_count),
    'waitlist', wait,
    'stale_count', tostring(ev.stale_count),
    'late_count', tostring(ev.late_count),
    'rejected_count', tostring(ev.rejected_count),
    'reminders_sent', tostring(ev.reminders_sent),
    'never_asked', json_list(lists.never),
    'unknown_guests', (ev.unknown_guests and ev.unknown_guests ~= '' and ev.unknown_guests ~= '{}') and ev.unknown_guests or '[]',
    'answers', aggregate,
    'attendees', json_list(lists.attendees),
    'response_rate', rate(answered, total),
    'attendance_rate', rate(ev.confirmed_count, total),
    'v', '2',
  }
  if ev.traceparent then
    summary[#summary + 1] = '_traceparent'
    summary[#summary + 1] = ev.traceparent
  end
  if ev.tracestate then
    summary[#summary + 1] = '_tracestate'
    summary[#summary + 1] = ev.tracestate
  end
  ev.status = status
  redis.call('HSET', K_EVENT, 'status', status, 'summary_reason', reason, 'closed_at', ARGV[1])
  local key = 'summary:' .. ev.id .. ':' .. seq
  if stepped then
    -- Decided now (status, counts, reason: the head); the lists are read in bounded steps by the
    -- coordinator from the version's keys, which nothing changes while `sb` names this summary
    -- (apply-revision answers busy). The list fields keep their place with empty values.
    for i = 1, #summary, 2 do
      if SUMMARY_LISTS[summary[i]] then
        summary[i + 1] = ''
      end
    end
    ev.sb = key
    redis.call('HSET', K_EVENT, 'sb', key)
    outbox(ev, { k = 'b', f = summary, key = key, cap = cap, q = ev.questions or '' })
    if handoff then
      HANDED = hand_lists(key)
    end
  else
    outbox(ev, { k = 's', f = summary, key = key })
  end
  activity(ev, status == 'cancelled' and 'cancelled' or 'closed', {}, { reason = reason })
end

-- Closes an open version whose every guest answered (or was never asked).
local function close_if_done(ev, cap)
  if ev.status ~= 'open' or ev.total_invited == 0 then
    return
  end
  local answered = ev.yes_count + ev.no_count + ev.maybe_count
  if answered + ev.never_asked_count >= ev.total_invited then
    finalize(ev, answered == 0 and 'expired' or 'all_replied', 'closed', cap)
  end
end

-- Records guests as never asked (an expired delivery); returns their ids that were new.
local function never_asked(ev, ids)
  local fresh = {}
  for _, id in ipairs(ids) do
    if redis.call('HEXISTS', K_INVITED, id) == 1 and redis.call('HEXISTS', K_REPLIES, id) == 0
      and redis.call('HSETNX', K_NEVER, id, 'expired') == 1 then
      ev.never_asked_count = ev.never_asked_count + 1
      fresh[#fresh + 1] = id
    end
  end
  return fresh
end

--[[
  Opens a version for the guests given (triples id, agent, name from ARGV[first..]): everyone at
  NEEDS-ACTION, a request to each (or never asked, when the version opens after expires_at).
]]
local function open_version(ev, first, now, default_deadline_ms, cap, staged)
  redis.call('UNLINK', unpack(VERSION_KEYS))
  for _, name in ipairs(COUNTERS) do
    ev[name] = 0
  end
  local ids, flat = {}, {}
  if staged then
    -- A large version: its guests were staged in bounded steps (event-store.ts, stage). Its
    -- `version` activity names none of them: the fan-out's steps name each chunk's guests in a
    -- `delivered` entry (outbox.ts), so this call never lists (nor encodes) thousands of guests.
    redis.call('RENAME', staged.guests, K_INVITED)
    ev.total_invited = staged.n
  else
    for i = first, #ARGV, 3 do
      ids[#ids + 1] = ARGV[i]
      flat[#flat + 1] = ARGV[i]
      flat[#flat + 1] = ARGV[i + 1] .. '\t' .. ARGV[i + 2]
    end
    if #flat > 0 then
      hset_many(K_INVITED, flat)
    end
    ev.total_invited = #ids
  end
  ev.status = 'open'
  ev.invited_at = tostring(now)
  if num(ev.rsvp_deadline) > 0 then
    ev.deadline = ev.rsvp_deadline
  else
    ev.deadline = tostring(now + default_deadline_ms)
  end
  redis.call('HSET', K_EVENT, 'status', 'open', 'invited_at', ev.invited_at, 'deadline', ev.deadline,
    'opened_sequence', ev.sequence)
  local changes = {}
  if not staged and num(ev.expires_at) > 0 and num(ev.expires_at) <= now then
    local fresh = never_asked(ev, ids)
    for i = 1, math.min(#fresh, ACTIVITY_GUESTS) do
      changes[i] = guest_change(fresh[i], 'never_asked', 'never_asked')
    end
    save_counts(ev)
    activity(ev, 'never_asked', changes)
  else
    if staged then
      -- Past expires_at the drainer records the chunks' guests as never asked instead (outbox.ts).
      fan_out(ev, 'request', { src = staged.chunks })
      LIFE_KEYS[#LIFE_KEYS + 1] = staged.chunks
    else
      deliver(ev, 'request', ids, {})
    end
    for i = 1, math.min(#ids, ACTIVITY_GUESTS) do
      changes[i] = guest_change(ids[i], 'invited', 'needs_action')
    end
    save_counts(ev)
    activity(ev, 'version', changes, { deadline = num(ev.deadline) })
  end
  if ev.total_invited == 0 then
    finalize(ev, 'no_guests', 'closed', cap)
  else
    close_if_done(ev, cap)
  end
end

-- The staged guests of this call (KEYS[guests_at], KEYS[guests_at + 1]; counts in `spec`, JSON
-- {n, c} or ''), checked complete: a stage cut short by a crash is never opened.
local function staged_guests(spec, guests_at)
  if not spec or spec == '' then
    return nil
  end
  local s = cjson.decode(spec)
  local staged = { guests = KEYS[guests_at], chunks = KEYS[guests_at + 1], n = tonumber(s.n) }
  if redis.call('HLEN', staged.guests) ~= staged.n or tonumber(redis.call('HGET', staged.chunks, 'n') or -1) ~= tonumber(s.c) then
    error('stage_incomplete: the staged guests of this call are missing or incomplete; stage them again')
  end
  return staged
end

-- When the event next needs a tick (ms), or -1: publish_at, reminders and deadline of the open
-- version, start reminders of an open or closed one.
local function next_due(ev)
  local best = -1
  local function cand(t)
    if best < 0 or t < best then
      best = t
    end
  end
  local seq = tostring(num(ev.sequence))
  if ev.status == 'scheduled' then
    cand(num(ev.publish_at))
  elseif ev.status == 'open' then
    cand(num(ev.deadline))
    for _, m in ipairs(decode_list(ev.reminders)) do
      if redis.call('SISMEMBER', K_DONE, 's' .. seq .. ':r:' .. m) == 0 then
        cand(num(ev.deadline) - m * 60000)
      end
    end
  end
  if (ev.status == 'open' or ev.status == 'closed') and num(ev.start) > 0 then
    for _, m in ipairs(decode_list(ev.start_reminders)) do
      if redis.call('SISMEMBER', K_DONE, 's' .. seq .. ':sr:' .. m) == 0 then
        cand(num(ev.start) - m * 60000)
      end
    end
  end
  return best
end

-- Every key of the event lives until its last moment of interest plus the retention: its deadline
-- or publish_at, and its start only when a start reminder still needs the state then.
local function extend_life(ev, now, retention_ms)
  local start = 0
  if #decode_list(ev.start_reminders) > 0 and ev.status ~= 'cancelled' then
    start = num(ev.start)
  end
  local horizon = math.max(now, num(ev.deadline), num(ev.publish_at), start, num(ev.rsvp_deadline))
  local ttl = horizon - now + retention_ms
  for i = 1, 11 do
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  for _, key in ipairs(LIFE_KEYS) do
    redis.call('PEXPIRE', key, ttl)
  end
end

local function finish(ev, now, retention_ms, extra)
  save_counts(ev)
  extend_life(ev, now, retention_ms)
  -- A small version's summary still waiting for its drain (`sb` set by an earlier call whose
  -- coordinator died before adding it) is handed back by whichever call meets it next, so that
  -- drain adds it in one round trip too. Built in steps instead, it took several round trips
  -- (10-22 ms), and a replica restarted again and again was killed mid-build each time, until the
  -- entry that met it was dead-lettered (the coordinator kill -9 test caught it).
  if not HANDED and ev.sb and ev.sb ~= '' and not summary_in_steps(ev) and ev.total_invited <= HAND_OFF_MAX then
    HANDED = hand_lists(ev.sb)
  end
  -- The outbox comes back with the answer: the caller drains it without reading it first.
  return { extra or 'ok', tostring(next_due(ev)), redis.call('HGETALL', K_OUTBOX), HANDED or {} }
end
