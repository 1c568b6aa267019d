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

  Bounded: a call gets at most one step of guests (read-model.ts, applyStepGuests); a big summary
  or report is applied in several calls, the version's counts, status and summary with the last.
  No cursor is needed: a row already applied by an entry is not applied again by the same entry
  (same src, same rank), so after a crash between calls the redelivered entry's applied steps
  are no-ops.

  Cheap: whatever the number of guests, one HMGET and one HSET on each hash and at most one XADD
  per call (the feed entry `changes` lists every message of the call, the summary in a field of its
  own; feed-hub.ts sends them to SSE clients as before, one event per message). A summary's rows
  that restate what the replies showed (most of them) are only marked final, by a string edit of
  the stored text the host read (ARGV[6…]), without JSON work or feed message.

  KEYS[1]  host:event:{<id>}:guests    guest_id -> row JSON (with `src`)
  KEYS[2]  host:event:{<id>}:versions  counts:<seq>, status:<seq>, deadline:<seq>, summary:<seq> -> JSON
  KEYS[3]  host:event:{<id>}:feed      stream of changes (kind `changes`, data: [[kind, data JSON], ...];
                                       summary: the version's summary JSON, when this call stored it)
  ARGV[1]  source entry id
  ARGV[2]  changes JSON: {sequence, revision, guests?: [row], counts?, status?, deadline?}
  ARGV[3]  feed MAXLEN (approximate)
  ARGV[4]  lifetime of the keys (ms)
  ARGV[5]  the version's summary JSON, or ''
  ARGV[6…] a summary's rows the host found restated (read-model.ts, restatedRows), three each:
           guest id, the stored row's text as the host read it, the length of that text without
           its `,"src":…}` end. Each becomes that text with the summary's src and `final: true`:
           no JSON work and no feed message (whoever saw the replies has the row already).

  Output: the number of feed messages added, or -1 when a restated row changed since the host read
  it (nothing written).
]]
local src = ARGV[1]
local change = cjson.decode(ARGV[2])
local seq = tostring(change.sequence)
local messages = {}

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
  -- A reply kept and not counted (stale, late) moves no guest into a later version: after a
  -- cancellation the coordinator reports it at the cancellation's sequence, which asked nobody,
  -- and the guest's answer to the version it closed must stay on the board (and in the CANCEL).
  if seq > oldSeq and (row.outcome == 'stale' or row.outcome == 'late') then return false end
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

local function feed(kind, text)
  messages[#messages + 1] = { kind, text }
end

local rows = type(change.guests) == 'table' and change.guests or {}
local marks = (#ARGV - 5) / 3
if #rows > 0 or marks > 0 then
  -- One read of every row the call touches; a guest listed twice sees its first change.
  local ids = {}
  for i, row in ipairs(rows) do ids[i] = row.guest_id end
  for i = 1, marks do ids[#rows + i] = ARGV[3 + 3 * i] end
  local stored = redis.call('HMGET', KEYS[1], unpack(ids))
  local current, written, order, args = {}, {}, {}, {}
  if marks > 0 then
    -- Rows the summary restates: marked final only if each is still the text the host read, else
    -- the call changes nothing and answers -1 (the host reads again). Lua strings are interned:
    -- comparing one is comparing a pointer.
    for i = 1, marks do
      if stored[#rows + i] ~= ARGV[4 + 3 * i] then return -1 end
    end
    local mark = ',"src":' .. cjson.encode(src) .. ',"final":true}'
    for i = 1, marks do
      args[2 * i - 1] = ids[#rows + i]
      args[2 * i] = string.sub(ARGV[4 + 3 * i], 1, tonumber(ARGV[5 + 3 * i])) .. mark
    end
  end
  for i, row in ipairs(rows) do
    local old = current[row.guest_id]
    if old == nil and stored[i] then old = cjson.decode(stored[i]) end
    local fresh = true
    if old then
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
      if written[row.guest_id] == nil then order[#order + 1] = row.guest_id end
      -- Encoded once: the feed's text is the row without src and final, the stored row that text
      -- with them appended (encoding every row twice was a third of this script's time).
      local final = row.final
      row.src, row.final = nil, nil
      local text = cjson.encode(row)
      feed('guest', text)
      written[row.guest_id] = string.sub(text, 1, -2) .. ',"src":' .. cjson.encode(src) .. (final ~= nil and (',"final":' .. cjson.encode(final)) or '') .. '}'
      row.src, row.final = src, final
      current[row.guest_id] = row
    end
  end
  if #order > 0 or #args > 0 then
    for _, id in ipairs(order) do
      args[#args + 1] = id
      args[#args + 1] = written[id]
    end
    redis.call('HSET', KEYS[1], unpack(args))
  end
end

-- The version's fields this call may set, read at once; each taken when no later entry set it.
local hasCounts = type(change.counts) == 'table'
local hasDeadline = change.deadline ~= nil and change.deadline ~= cjson.null
local hasStatus = type(change.status) == 'string'
if hasCounts or hasDeadline or hasStatus then
  local fields = { 'counts:' .. seq, 'deadline:' .. seq, 'status:' .. seq }
  local before = redis.call('HMGET', KEYS[2], unpack(fields))
  local sets = {}
  local function take(i, value)
    local old = before[i] and cjson.decode(before[i])
    if old and not newer(src, old.src) then return false, old end
    sets[#sets + 1] = fields[i]
    sets[#sets + 1] = cjson.encode({ src = src, value = value })
    return true, old
  end
  if hasCounts and take(1, change.counts) then feed('counts', cjson.encode(change.counts)) end
  if hasDeadline then take(2, change.deadline) end
  if hasStatus then
    -- Every report carries the version's status: the feed says it only when it changes.
    local taken, old = take(3, change.status)
    if taken and (not old or old.value ~= change.status) then
      feed('status', cjson.encode({ status = change.status, revision = change.revision, sequence = change.sequence }))
    end
  end
  if #sets > 0 then redis.call('HSET', KEYS[2], unpack(sets)) end
end

-- Passed as text and stored as text: cjson would turn its empty lists into objects. In the feed it
-- is a field of its own (the entry's last message, feed-hub.ts): escaped into `data` it cost more
-- Redis time than all the version's guest rows (it lists every reply, ~400 KB for 1,000 guests).
local summary = ARGV[5] ~= '' and redis.call('HSETNX', KEYS[2], 'summary:' .. seq, ARGV[5]) == 1

if #messages > 0 or summary then
  -- An empty Lua table encodes as {}, not [].
  local entry = { 'MAXLEN', '~', ARGV[3], '*', 'kind', 'changes', 'sequence', seq, 'data', #messages > 0 and cjson.encode(messages) or '[]' }
  if summary then
    entry[#entry + 1] = 'summary'
    entry[#entry + 1] = ARGV[5]
  end
  redis.call('XADD', KEYS[3], unpack(entry))
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return #messages + (summary and 1 or 0)
