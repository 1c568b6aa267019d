--[[
  The guest registry's epoch marker: when the registry (re)started filling, in Redis' clock. Set
  by the first agent registration or heartbeat (or invitation) that finds it missing, which is
  the case after Redis came back empty; a coordinator reads its age to tell a registry that may
  still be rebuilding (younger than GUEST_TTL_MS: live agents may not have re-registered yet)
  from one where "no guest" is the truth. Its life is bounded: it expires after ARGV[1] ms and
  is simply set again.

  KEYS[1]  registry epoch marker
  ARGV[1]  life of a new marker (ms)

  Output: the marker's age in ms (0 when this call set it).
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('SET', KEYS[1], now, 'NX', 'PX', ARGV[1]) then
  return 0
end
local since = tonumber(redis.call('GET', KEYS[1]))
if not since then
  return 0
end
return math.max(0, now - since)
