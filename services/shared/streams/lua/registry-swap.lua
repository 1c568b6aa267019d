--[[
  Puts an agent's staged guests in place of its registration, in one step a reader cannot see
  half done. GuestRegistry.register wrote the guests into a staging hash first, a bounded HSET at a
  time (one MULTI of 50,000 guests kept Redis from answering anyone else for 86 ms: issue 17,
  item 4); this script only swaps, so it is short whatever the agent's size:
  UNLINK frees the old hash in the background (RENAME onto an existing big key would free it
  synchronously), RENAME is O(1). A stage that lost guests (it expired while being written, and a
  later HSET began it anew) is not the complete set: it is dropped and 0 returned, for the caller
  to stage again.

  KEYS[1]  the staging hash (registry:agent:{id}:guests:stage:<token>)
  KEYS[2]  the agent's guests hash
  KEYS[3]  the agent's info hash
  ARGV[1]  distinct guests staged (the stage's HLEN when complete)
  ARGV[2]  life of both hashes (ms)
  ARGV[3..]  info fields and values

  Output: 1 when swapped, 0 when the stage was incomplete (nothing changed but the stage dropped).
]]
local expected = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[1]) ~= expected then
  redis.call('UNLINK', KEYS[1])
  return 0
end
redis.call('UNLINK', KEYS[2])
-- An agent of no guests has no stage: its guests hash stays absent, as before staging existed.
if expected > 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[3], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1
