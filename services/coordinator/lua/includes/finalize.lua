--[[
  Shared by create-event, record-replies and close-event (same KEYS layout):
  KEYS[1] event hash, KEYS[2] invited hash, KEYS[3] replies hash, KEYS[4] late hash, KEYS[5] summary hash.

  finalize(reason, retentionMs, cap) marks the event summarized, writes the summary's fields into
  KEYS[5] (the outbox the caller publishes from, then deletes) and sets every key of the event to
  expire after the retention. Returns the summary as a flat field list.
]]
local function finalize(reason, retention_ms, cap)
  local ev = redis.call('HMGET', KEYS[1], 'id', 'host_id', 'event_name', 'total_invited',
    'yes_count', 'no_count', 'maybe_count', 'invited_at', 'sequence', 'traceparent', 'tracestate', 'published_at')
  local total = tonumber(ev[4])
  local yes, no, maybe = tonumber(ev[5]), tonumber(ev[6]), tonumber(ev[7])
  local answered = yes + no + maybe

  local responses = {}
  local replied = {}
  local truncated = false
  local missing = {}
  if answered >= total then
    -- Everyone answered (the common case): only the reply values are needed, no guest set.
    responses = redis.call('HVALS', KEYS[3])
    if #responses > cap then
      truncated = true
      local kept = {}
      for i = 1, cap do
        kept[i] = responses[i]
      end
      responses = kept
    end
  else
    local replies = redis.call('HGETALL', KEYS[3])
    for i = 1, #replies, 2 do
      replied[replies[i]] = true
      if #responses < cap then
        responses[#responses + 1] = replies[i + 1]
      else
        truncated = true
      end
    end
    local invited = redis.call('HGETALL', KEYS[2])
    for i = 1, #invited, 2 do
      if not replied[invited[i]] then
        if #missing < cap then
          local value = invited[i + 1]
          local tab = string.find(value, '\t', 1, true)
          local name = tab and string.sub(value, tab + 1) or invited[i]
          missing[#missing + 1] = cjson.encode({ guest_id = invited[i], guest_name = name })
        else
          truncated = true
        end
      end
    end
  end

  local summary = {
    'id', 'summary:' .. ev[1],
    'invitation_id', ev[1],
    'host_id', ev[2],
    'event_name', ev[3],
    'total_invited', tostring(total),
    'total_responses', tostring(answered),
    'yes_count', tostring(yes),
    'no_count', tostring(no),
    'maybe_count', tostring(maybe),
    'no_response_count', tostring(total - answered),
    'responses', '[' .. table.concat(responses, ',') .. ']',
    'no_response', '[' .. table.concat(missing, ',') .. ']',
    'responses_truncated', truncated and '1' or '0',
    'reason', reason,
    'invited_at', ev[8],
    'published_at', ev[12] or ev[8],
    'sequence', ev[9],
    'v', '1',
  }
  -- The trace context of the invitation travels with the outbox but is not part of the entry:
  -- the publisher starts its span under it so the summary joins the event's trace.
  if ev[10] then
    summary[#summary + 1] = '_traceparent'
    summary[#summary + 1] = ev[10]
  end
  if ev[11] then
    summary[#summary + 1] = '_tracestate'
    summary[#summary + 1] = ev[11]
  end
  redis.call('HSET', KEYS[1], 'status', 'summarized', 'summary_reason', reason)
  redis.call('DEL', KEYS[5])
  redis.call('HSET', KEYS[5], unpack(summary))
  for i = 1, 5 do
    redis.call('PEXPIRE', KEYS[i], retention_ms)
  end
  -- The same fields as the outbox now holds, without reading back what was just written.
  return summary
end
