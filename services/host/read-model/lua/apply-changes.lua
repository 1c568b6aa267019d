--[[
  Applies what the coordinator reported about one event (an event_activity entry's part for it, or
  a summary) to the host's read model, and appends what changed to the event's feed stream, in one
  step. Every host replica reads a share of the entries in the application's group and applies
  them here, into the same keys, so every replica shows the same thing.

  The guest rows are merged by the host (merge-rows.ts: which change is later, what a row keeps),
  not here: Redis is one thread that every hop of an event waits on, and decoding, comparing and
  encoding each row was most of this script's time, while the hosts scale out. The host reads the
  rows of a step, merges, and sends each row it changes as the text it read and the text to write.
  This script is the compare-and-set: if any of those rows is no longer the text the host read
  (another replica applied another entry meanwhile), it writes nothing and answers -1; the host
  reads again and merges again, so a merge is never applied over a row it did not see. Rows the
  host did not change are not checked: each row's history is its own, and the host's decision to
  leave one as it was is the decision for the row as it was read, a state it had.

  At least once and in any order: each guest row (merge-rows.ts) and each version's counts, status
  and deadline (here) remember the id of the entry that set them (`src`) and take a change only
  from a later entry (stream ids grow with Redis' clock). An overtaken change is not applied and
  adds nothing to the feed. A summary is kept once per version.

  Bounded: a call gets at most one step of guests (read-model.ts, applyStepGuests); a big summary
  or report is applied in several calls, the version's counts, status and summary with the last.
  No cursor is needed: a row already applied by an entry is not applied again by the same entry
  (same src, same rank), so after a crash between calls the redelivered entry's applied steps
  are no-ops.

  Cheap: whatever the number of guests, one HMGET and one HSET on each hash and at most one XADD
  per call (the feed entry `changes` lists every message of the call, the summary in a field of its
  own; feed-hub.ts sends them to SSE clients as before, one event per message), no JSON work on
  the rows; the keys' expiry is refreshed only when it has run down by more than a minute (or a
  hundredth of the lifetime, if shorter): a PEXPIRE on every call is a write, in the AOF too.

  KEYS[1]  host:event:{<id>}:guests    guest_id -> row JSON (with `src`)
  KEYS[2]  host:event:{<id>}:versions  counts:<seq>, status:<seq>, deadline:<seq>, summary:<seq> -> JSON
  KEYS[3]  host:event:{<id>}:feed      stream of changes (kind `changes`, data: [[kind, data JSON], ...];
                                       summary: the version's summary JSON, when this call stored it)
  ARGV[1]  source entry id
  ARGV[2]  the version's sequence
  ARGV[3]  feed MAXLEN (approximate)
  ARGV[4]  lifetime of the keys (ms)
  ARGV[5]  the version's summary JSON, or ''
  ARGV[6]  the version's counts JSON, or ''
  ARGV[7]  its feed message, ["counts", counts JSON] as JSON
  ARGV[8]  the version's status, or ''
  ARGV[9]  its feed message, ["status", {status, revision, sequence} JSON] as JSON
  ARGV[10] the version's deadline as JSON (a number), or ''
  ARGV[11] the feed messages of the rows written, ["guest", row JSON] as JSON, joined by commas, or ''
  ARGV[12…] the rows written, three each: guest id, the stored text the host read ('' for no row),
           the text to write

  Output: the number of feed messages this call added besides the rows' (counts, status, summary),
  or -1 when a row changed since the host read it (nothing written).
]]
local src = ARGV[1]
local seq = ARGV[2]
local writes = (#ARGV - 11) / 3

if writes > 0 then
  local ids, args = {}, {}
  for i = 1, writes do
    ids[i] = ARGV[9 + 3 * i]
    args[2 * i - 1] = ids[i]
    args[2 * i] = ARGV[11 + 3 * i]
  end
  local stored = redis.call('HMGET', KEYS[1], unpack(ids))
  -- Lua strings are interned: comparing one is comparing a pointer.
  for i = 1, writes do
    if (stored[i] or '') ~= ARGV[10 + 3 * i] then return -1 end
  end
  redis.call('HSET', KEYS[1], unpack(args))
end

-- "ms-n" ids compared as numbers (string comparison would put 9-0 after 10-0).
local function newer(a, b)
  local am, an = string.match(a, '^(%d+)-(%d+)$')
  local bm, bn = string.match(b, '^(%d+)-(%d+)$')
  am, an, bm, bn = tonumber(am), tonumber(an), tonumber(bm), tonumber(bn)
  return am > bm or (am == bm and an > bn)
end

local messages = {}
if ARGV[11] ~= '' then messages[1] = ARGV[11] end
local added = 0

-- The version's fields this call may set, read at once; each taken when no later entry set it.
-- Stored as {"src":…,"value":…}; the old ones are decoded (small), the new ones written as text.
local values = { ARGV[6], ARGV[10], ARGV[8] ~= '' and cjson.encode(ARGV[8]) or '' }
if values[1] ~= '' or values[2] ~= '' or values[3] ~= '' then
  local fields = { 'counts:' .. seq, 'deadline:' .. seq, 'status:' .. seq }
  local before = redis.call('HMGET', KEYS[2], unpack(fields))
  local prefix = '{"src":' .. cjson.encode(src) .. ',"value":'
  local sets = {}
  local function take(i)
    local old = before[i] and cjson.decode(before[i])
    if old and not newer(src, old.src) then return false, old end
    sets[#sets + 1] = fields[i]
    sets[#sets + 1] = prefix .. values[i] .. '}'
    return true, old
  end
  if values[1] ~= '' and take(1) then
    messages[#messages + 1] = ARGV[7]
    added = added + 1
  end
  if values[2] ~= '' then take(2) end
  if values[3] ~= '' then
    -- Every report carries the version's status: the feed says it only when it changes.
    local taken, old = take(3)
    if taken and (not old or old.value ~= ARGV[8]) then
      messages[#messages + 1] = ARGV[9]
      added = added + 1
    end
  end
  if #sets > 0 then redis.call('HSET', KEYS[2], unpack(sets)) end
end

-- Passed as text and stored as text: cjson would turn its empty lists into objects. In the feed it
-- is a field of its own (the entry's last message, feed-hub.ts): escaped into `data` it cost more
-- Redis time than all the version's guest rows (it lists every reply, ~400 KB for 1,000 guests).
local summary = ARGV[5] ~= '' and redis.call('HSETNX', KEYS[2], 'summary:' .. seq, ARGV[5]) == 1

if #messages > 0 or summary then
  local entry = { 'MAXLEN', '~', ARGV[3], '*', 'kind', 'changes', 'sequence', seq, 'data', '[' .. table.concat(messages, ',') .. ']' }
  if summary then
    entry[#entry + 1] = 'summary'
    entry[#entry + 1] = ARGV[5]
    added = added + 1
  end
  redis.call('XADD', KEYS[3], unpack(entry))
end

-- Every key lives at most the lifetime after its last change, and at least that less the slack.
local lifetime = tonumber(ARGV[4])
local due = lifetime - math.min(60000, math.floor(lifetime / 100))
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < due then redis.call('PEXPIRE', KEYS[i], lifetime) end
end
return added
