--[[
  Saves one revision of an event the host organizes, and its invitation entry in the event's
  outbox, together: an API call either saved both or nothing. The outbox drainer moves the entry to
  its stream once (marker `<id>:r<revision>`), so a crash between this script and the XADD is
  completed later, never lost and never doubled.

  KEYS[1]  host:event:{<id>}          definition hash
  KEYS[2]  host:event:{<id>}:outbox   revision -> JSON {stream, fields}
  ARGV[1]  mode: create | update | cancel
  ARGV[2]  host_id of the caller
  ARGV[3]  revision the caller computed the change from ("0" for create): compare-and-set
  ARGV[4]  sequence of the new revision
  ARGV[5]  status of the new revision (scheduled, open, cancelled)
  ARGV[6]  definition JSON (the body as stored, defaults filled)
  ARGV[7]  outbox item JSON
  ARGV[8]  request fingerprint (create: what the client asked for, to recognise a retry)
  ARGV[9]  now (ms)
  ARGV[10] lifetime of the keys (ms)
  ARGV[11] owner: the API token's subject that creates the event (create only; never changes)

  Output: {"saved", revision} | {"duplicate", revision, sequence, status} | {"in_use", owner}
        | {"conflict"} | {"not_found"} | {"stale", revision} | {"cancelled", revision, sequence}
]]
local mode = ARGV[1]
local current = redis.call('HMGET', KEYS[1], 'host_id', 'revision', 'sequence', 'status', 'fingerprint')
local owner, revision = current[1], current[2]

if mode == 'create' then
  if owner then
    if owner ~= ARGV[2] then return { 'in_use', owner } end
    if current[5] == ARGV[8] then return { 'duplicate', revision, current[3], current[4] } end
    return { 'conflict' }
  end
  redis.call('HSET', KEYS[1], 'host_id', ARGV[2], 'fingerprint', ARGV[8], 'created_at', ARGV[9], 'owner', ARGV[11] or '')
else
  if not owner then return { 'not_found' } end
  if owner ~= ARGV[2] then return { 'in_use', owner } end
  if current[4] == 'cancelled' then return { 'cancelled', revision, current[3] } end
  if revision ~= ARGV[3] then return { 'stale', revision } end
end

local next = tonumber(ARGV[3]) + 1
redis.call('HSET', KEYS[1], 'revision', next, 'sequence', ARGV[4], 'status', ARGV[5], 'definition', ARGV[6], 'updated_at', ARGV[9])
redis.call('HSET', KEYS[2], next, ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[10])
redis.call('PEXPIRE', KEYS[2], ARGV[10])
return { 'saved', tostring(next) }
