--[[
  Commits the guest list of a fan-out (outbox.ts, FanOutLister): the chunks listed under a
  temporary key become the fan-out's chunk hash unless another coordinator committed one first
  (then this one is dropped: both deliver from the same chunks, under the same once-keys). The
  event's `fo:<fx>` goes, so apply-revision stops answering busy; a reminder's guests are counted
  in reminders_sent once, with it.

  KEYS[1] the listed chunks (temporary)
  KEYS[2] event:{id}:fanout:<fx>, the fan-out's chunk hash
  KEYS[3] event:{id}
  ARGV[1] fo:<fx>
  ARGV[2] guests to add to reminders_sent (0 for other deliveries)

  Output: 1 committed, 0 already there
]]
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('UNLINK', KEYS[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
-- The chunks live as long as the event's state (its TTL is renewed by every script of the event).
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if redis.call('HDEL', KEYS[3], ARGV[1]) == 1 and tonumber(ARGV[2]) > 0 then
  redis.call('HINCRBY', KEYS[3], 'reminders_sent', ARGV[2])
end
return 1
