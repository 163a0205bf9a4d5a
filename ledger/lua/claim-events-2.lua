--[[
  Claims up to ARGV[3] events due at ARGV[1] (oldest due first) and hides them
  until ARGV[1] + ARGV[2] (a lease: a notifier that dies leaves them to others).

  KEYS[1] outbox sorted set (id scored by due time)   KEYS[2] outbox events hash

  ARGV[1] now (epoch ms)   ARGV[2] lease (ms)   ARGV[3] limit

  Returns {0, eventJson...}
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {0}
local due = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do
  local ev = redis.call('HGET', KEYS[2], id)
  if ev then
    redis.call('ZADD', KEYS[1], due, id)
    out[#out + 1] = ev
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
