--[[
  Claims pending entries for this consumer and returns them with their delivery counts, in one
  step: a reply lost with the connection leaves nothing half done, the caller just asks again.

  What counts as one more delivery: an entry last delivered to a process that is gone (another
  consumer, or this consumer's name before the process restarted: a crash loop on a poison entry
  must show in its count). An entry this very process already had (it read, claimed or re-read it
  since it started) does not count again, so re-reading after a reconnect inflates nothing. The
  caller says when it started, in Redis' clock (TIME at its start): an entry last delivered before
  that belongs to an earlier process. Asking again after a lost reply counts nothing twice, since
  the claim itself made the entry's last delivery "now".

  KEYS[1]  stream
  ARGV[1]  consumer group
  ARGV[2]  consumer that claims
  ARGV[3]  'own': this consumer's pending entries, whatever their idle time;
           'idle': any consumer's entries idle for at least ARGV[7] ms (abandoned work)
  ARGV[4]  continue after this entry id ('0-0': from the start)
  ARGV[5]  pending entries to look at, at most (bounds the work of one call)
  ARGV[6]  entries to claim, at most
  ARGV[7]  minimum idle time in ms ('idle' only)
  ARGV[8]  when the claiming process started, ms in Redis' clock

  Output: { cursor, entries, deleted }
    cursor   where the next call goes on ('0-0': the end of the pending list was reached)
    entries  { id, fields, deliveries } now pending under the claiming consumer
    deleted  ids that were pending but are gone from the stream (trimmed or deleted);
             acknowledged here, so they leave the pending list
]]
local stream, group, me, mode = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local cursor = ARGV[4]
local scan, take = tonumber(ARGV[5]), tonumber(ARGV[6])
local minIdle, startedAt = tonumber(ARGV[7]), tonumber(ARGV[8])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local start = cursor == '0-0' and '-' or '(' .. cursor
local rows
if mode == 'own' then
  rows = redis.call('XPENDING', stream, group, start, '+', scan, me)
else
  rows = redis.call('XPENDING', stream, group, start, '+', scan)
end

local entries, deleted = {}, {}
local looked = 0
for _, row in ipairs(rows) do
  if #entries >= take then
    break
  end
  looked = looked + 1
  cursor = row[1]
  local id, owner, idle, count = row[1], row[2], tonumber(row[3]), tonumber(row[4])
  if mode == 'own' or idle >= minIdle then
    local deliveries = count
    if owner ~= me or now - idle < startedAt then
      deliveries = count + 1
    end
    -- RETRYCOUNT sets the count instead of adding one: the rule above decides, not the call.
    local claimed = redis.call('XCLAIM', stream, group, me, 0, id, 'RETRYCOUNT', deliveries)[1]
    if type(claimed) == 'table' and type(claimed[2]) == 'table' then
      entries[#entries + 1] = { id, claimed[2], deliveries }
    else
      -- Redis 7 has dropped it from the pending list already; Redis 6.2 keeps it until XACK.
      redis.call('XACK', stream, group, id)
      deleted[#deleted + 1] = id
    end
  end
end
if looked == #rows and #rows < scan then
  cursor = '0-0'
end
return { cursor, entries, deleted }
