--[[
  Applies what the coordinator reported about one event (an event_activity entry's part for it, or
  a summary) to the host's read model, and appends what changed to the event's feed stream, in one
  step. Every host replica reads a share of the entries in the application's group and applies
  them here, into the same keys, so every replica shows the same thing.

  At least once and in any order: each guest row, each version's counts, status and deadline
  remember the id of the entry that set them (`src`) and take a change only from a later entry
  (stream ids grow with Redis' clock); a guest row first by its (sequence, reply_rev), so a reply
  replayed in a new entry does not undo a newer one. An overtaken change is not applied and adds
  nothing to the feed. A summary is kept once per version.

  KEYS[1]  host:event:{<id>}:guests    guest_id -> row JSON (with `src`)
  KEYS[2]  host:event:{<id>}:versions  counts:<seq>, status:<seq>, deadline:<seq>, summary:<seq> -> JSON
  KEYS[3]  host:event:{<id>}:feed      stream of changes (kind, data)
  ARGV[1]  source entry id
  ARGV[2]  changes JSON: {sequence, revision, guests?: [row], counts?, status?, deadline?}
  ARGV[3]  feed MAXLEN (approximate)
  ARGV[4]  lifetime of the keys (ms)
  ARGV[5]  the version's summary JSON, or ''

  Output: the number of feed entries added.
]]
local src = ARGV[1]
local change = cjson.decode(ARGV[2])
local seq = tostring(change.sequence)
local added = 0

-- "ms-n" ids compared as numbers (string comparison would put 9-0 after 10-0).
local function newer(a, b)
  local am, an = string.match(a, '^(%d+)-(%d+)$')
  local bm, bn = string.match(b, '^(%d+)-(%d+)$')
  am, an, bm, bn = tonumber(am), tonumber(an), tonumber(bm), tonumber(bn)
  return am > bm or (am == bm and an > bn)
end

-- A guest's change is later than the stored one by (sequence, reply_rev), then by entry: a
-- replayed reply (re-emitted as a new entry) carries its old reply_rev and changes nothing, while
-- changes without a new reply (a promotion, a removal) follow the order of the entries.
local function later(row, old)
  local seq, oldSeq = tonumber(row.sequence) or 0, tonumber(old.sequence) or 0
  if seq ~= oldSeq then return seq > oldSeq end
  -- The version's summary (`final`) is its last word: no report of the same version overrides it.
  if row.final ~= old.final then return row.final == true end
  -- A promotion or a removal is no reply (no reply_rev) but changes the guest's place: it follows
  -- the order of entries. Other changes without a reply (invited, reminded, stale, late) never
  -- override a reply: their entries may be added after the reply's (an outbox drained late).
  if row.reply_rev == nil and (row.outcome == 'promoted' or row.outcome == 'removed') then return newer(src, old.src) end
  local rev, oldRev = tonumber(row.reply_rev) or -1, tonumber(old.reply_rev) or -1
  if rev ~= oldRev then return rev > oldRev end
  return newer(src, old.src)
end

local function feed(kind, data)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', kind, 'sequence', seq, 'data', cjson.encode(data))
  added = added + 1
end

-- A versioned field: taken when no later entry set it.
local function take(field, value, kind)
  local stored = redis.call('HGET', KEYS[2], field)
  if stored then
    local old = cjson.decode(stored)
    if not newer(src, old.src) then return false end
  end
  redis.call('HSET', KEYS[2], field, cjson.encode({ src = src, value = value }))
  if kind then feed(kind, value) end
  return true
end

if type(change.guests) == 'table' then
  for _, row in ipairs(change.guests) do
    local stored = redis.call('HGET', KEYS[1], row.guest_id)
    local fresh = true
    if stored then
      local old = cjson.decode(stored)
      if not later(row, old) then
        fresh = false
      else
        if row.guest_name == nil then row.guest_name = old.guest_name end
        -- A promotion keeps what the guest's reply said (its rev, party, answers).
        if row.outcome == 'promoted' and row.reply_rev == nil and row.sequence == old.sequence then
          row.reply_rev, row.answers = old.reply_rev, old.answers
          if row.plus_ones == nil then row.plus_ones = old.plus_ones end
        end
        -- What the guest last said stays with its row until it says something new: a summary's
        -- attendees and a new version's invitation carry no message, and are no reason to drop it.
        if row.message == nil and old.message ~= nil then
          row.message = old.message
          row.message_sequence = old.message_sequence or old.sequence
        end
      end
    end
    if row.message ~= nil and row.message_sequence == nil then row.message_sequence = row.sequence end
    if fresh then
      row.src = src
      redis.call('HSET', KEYS[1], row.guest_id, cjson.encode(row))
      row.src = nil
      row.final = nil
      feed('guest', row)
    end
  end
end

if type(change.counts) == 'table' then take('counts:' .. seq, change.counts, 'counts') end
if change.deadline ~= nil and change.deadline ~= cjson.null then take('deadline:' .. seq, change.deadline, nil) end
if type(change.status) == 'string' then
  -- Every report carries the version's status: the feed says it only when it changes.
  local before = redis.call('HGET', KEYS[2], 'status:' .. seq)
  if take('status:' .. seq, change.status, nil) and (not before or cjson.decode(before).value ~= change.status) then
    feed('status', { status = change.status, revision = change.revision, sequence = change.sequence })
  end
end
-- Passed as text and stored as text: cjson would turn its empty lists into objects.
if ARGV[5] ~= '' and redis.call('HSETNX', KEYS[2], 'summary:' .. seq, ARGV[5]) == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'summary', 'sequence', seq, 'data', ARGV[5])
  added = added + 1
end

for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return added
