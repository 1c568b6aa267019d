--[[
  Applies what the coordinator reported about one event (the parts for it of one or more
  event_activity entries, or a summary) to the host's read model, and appends what changed to the event's feed stream, in one
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
  and deadline (here) remember the id of the entry that set them (`src`, each part's own) and take a change only
  from a later entry (stream ids grow with Redis' clock). An overtaken change is not applied and
  adds nothing to the feed. A summary is kept once per version and fed once.

  A summary's text is not passed here: the host stores it with a plain HSETNX before this call
  (read-model.ts, storeSummaries; ~400 KB for 1,000 guests cost ~1.1-1.3 ms per redis.call that
  wrote it here, and it was written twice). This call marks it fed (`summary_fed:<seq>`, once) and
  its feed entry names the version (`summary_seq`); feed-hub.ts reads the text when it sends.

  Bounded: a call gets at most one step of guests (read-model.ts, applyStepGuests); a big summary
  or report is applied in several calls, the version's counts, status and summary with the last.
  No cursor is needed: a row already applied by an entry is not applied again by the same entry
  (same src, same rank), so after a crash between calls the redelivered entry's applied steps
  are no-ops.

  Cheap: whatever the number of guests, one HMGET and one HSET on the guests hash, one of each on
  the versions hash per part that sets a field, and at most one XADD per call (the feed entry `changes` lists every message of the call, the summary by reference in a field of its
  own; feed-hub.ts sends them to SSE clients as before, one event per message), no JSON work on
  the rows; the keys' expiry is refreshed only when it has run down by more than a minute (or a
  hundredth of the lifetime, if shorter): a PEXPIRE on every call is a write, in the AOF too.

  KEYS[1]  host:event:{<id>}:guests    guest_id -> row JSON (with `src`)
  KEYS[2]  host:event:{<id>}:versions  counts:<seq>, status:<seq>, deadline:<seq>, summary:<seq> -> JSON;
                                       summary_fed:<seq> -> 1 once the summary is in the feed
  KEYS[3]  host:event:{<id>}:feed      stream of changes (kind `changes`, data: [[kind, data JSON], ...];
                                       summary_seq: the version whose summary this call fed; entries
                                       written before carry the text itself in `summary`)
  ARGV[1]  feed MAXLEN (approximate)
  ARGV[2]  lifetime of the keys (ms)
  ARGV[3]  n, the number of parts: the entries this call applies (several when the host applies a
           batch of event_activity entries, read-model.ts), in entry order, nine arguments each:
             1 the part's source entry id
             2 the version's sequence
             3 '1' when the part is the version's summary (its text stored already), or ''
               (at most one part of a call has one)
             4 the version's counts JSON, or ''
             5 its feed message, ["counts", counts JSON] as JSON
             6 the version's status, or ''
             7 its feed message, ["status", {status, revision, sequence} JSON] as JSON
             8 the version's deadline as JSON (a number), or ''
             9 the feed messages of the part's rows written, ["guest", row JSON] as JSON, joined by
               commas, or ''
  ARGV[4 + 9n…] the rows written, three each: guest id, the stored text the host read ('' for no
           row), the text to write (a guest changed by several parts: its last text, each part's
           row merged by the host over the one before, each row with its own entry as `src`)

  Each part's version fields are taken with its own src, in order, as separate calls would take
  them; the feed entry lists the messages of every part in that order (one entry per call).

  Output: the number of feed messages this call added besides the rows' (counts, status, summary),
  or -1 when a row changed since the host read it (nothing written).
]]
local parts = tonumber(ARGV[3])
local first = 4 + 9 * parts
local writes = (#ARGV - first + 1) / 3

if writes > 0 then
  local ids, args = {}, {}
  for i = 1, writes do
    ids[i] = ARGV[first + 3 * (i - 1)]
    args[2 * i - 1] = ids[i]
    args[2 * i] = ARGV[first + 3 * (i - 1) + 2]
  end
  local stored = redis.call('HMGET', KEYS[1], unpack(ids))
  -- Lua strings are interned: comparing one is comparing a pointer.
  for i = 1, writes do
    if (stored[i] or '') ~= ARGV[first + 3 * (i - 1) + 1] then return -1 end
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
local added = 0
local seq, fed

for p = 1, parts do
  local b = 3 + 9 * (p - 1)
  local src = ARGV[b + 1]
  seq = ARGV[b + 2]
  if ARGV[b + 9] ~= '' then messages[#messages + 1] = ARGV[b + 9] end

  -- The version's fields this part may set, read at once; each taken when no later entry set it
  -- (a part before this one in the same call included: it is written before the next part reads).
  -- Stored as {"src":…,"value":…}; the old ones are decoded (small), the new ones written as text.
  local status = ARGV[b + 6]
  local values = { ARGV[b + 4], ARGV[b + 8], status ~= '' and cjson.encode(status) or '' }
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
      messages[#messages + 1] = ARGV[b + 5]
      added = added + 1
    end
    if values[2] ~= '' then take(2) end
    if values[3] ~= '' then
      -- Every report carries the version's status: the feed says it only when it changes.
      local taken, old = take(3)
      if taken and (not old or old.value ~= status) then
        messages[#messages + 1] = ARGV[b + 7]
        added = added + 1
      end
    end
    if #sets > 0 then redis.call('HSET', KEYS[2], unpack(sets)) end
  end

  -- Fed once, however often the summary's entry is applied (a redelivery, two replicas racing).
  if ARGV[b + 3] ~= '' and redis.call('HSETNX', KEYS[2], 'summary_fed:' .. seq, '1') == 1 then
    fed = seq
    added = added + 1
  end
end

if #messages > 0 or fed then
  local entry = { 'MAXLEN', '~', ARGV[1], '*', 'kind', 'changes', 'sequence', seq, 'data', '[' .. table.concat(messages, ',') .. ']' }
  if fed then
    entry[#entry + 1] = 'summary_seq'
    entry[#entry + 1] = fed
  end
  redis.call('XADD', KEYS[3], unpack(entry))
end

-- Every key lives at most the lifetime after its last change, and at least that less the slack.
local lifetime = tonumber(ARGV[2])
local due = lifetime - math.min(60000, math.floor(lifetime / 100))
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < due then redis.call('PEXPIRE', KEYS[i], lifetime) end
end
return added
