--[[
  Removes a consumer from its group when it has nothing pending and has been idle long enough,
  checked and done in one step: XGROUP DELCONSUMER drops the consumer's pending entries, so a
  consumer that read an entry between a separate check and the delete would lose it for good.

  KEYS[1]  stream
  ARGV[1]  consumer group
  ARGV[2]  consumer
  ARGV[3]  minimum idle time (ms)

  Output: 1 when the consumer was removed, 0 when it was kept (or did not exist).
]]
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then
  return 0
end
for _, row in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #row, 2 do
    info[row[i]] = row[i + 1]
  end
  if info['name'] == ARGV[2] then
    if tonumber(info['idle']) < tonumber(ARGV[3]) then
      return 0
    end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return 0
