--[[
  Records one delivery attempt of an outbox event: appends it to the tenant's
  delivery log (capped), counts it, and removes the event (delivered, failed)
  or makes it due again (retrying). An event already settled is left alone.

  KEYS[1] outbox sorted set   KEYS[2] outbox events hash
  KEYS[3] delivery log list of the tenant (newest first)   KEYS[4] delivery counters hash of the tenant

  ARGV[1] event id   ARGV[2] outcome ('delivered' | 'retrying' | 'failed')
  ARGV[3] next attempt (epoch ms, for 'retrying')   ARGV[4] now (epoch ms)
  ARGV[5] HTTP status ('' for none)   ARGV[6] error ('' for none)   ARGV[7] duration (ms)
  ARGV[8] delivery log length kept

  Returns {1} recorded, {0} event unknown (already settled)
]]
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not json then return {0} end
local ev = cjson.decode(json)
ev.attempts = (tonumber(ev.attempts) or 0) + 1
if ARGV[2] == 'retrying' then
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(ev))
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local rec = {eventId = ARGV[1], type = ev.type, attempt = ev.attempts, at = tonumber(ARGV[4]), outcome = ARGV[2], durationMs = tonumber(ARGV[7])}
if ARGV[5] ~= '' then rec.status = tonumber(ARGV[5]) end
if ARGV[6] ~= '' then rec.error = ARGV[6] end
redis.call('LPUSH', KEYS[3], cjson.encode(rec))
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
redis.call('HINCRBY', KEYS[4], ev.type .. '|' .. ARGV[2], 1)
return {1}
