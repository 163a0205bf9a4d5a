--[[
  Removes a tenant's webhook and every event of the tenant still in the outbox.

  KEYS[1] webhook hash of the tenant   KEYS[2] outbox sorted set   KEYS[3] outbox events hash

  ARGV[1] tenant id

  Returns {removed}   (1 when there was a webhook, else 0)
]]
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local ev = cjson.decode(all[i + 1])
  if ev.tenantId == ARGV[1] then
    redis.call('HDEL', KEYS[3], all[i])
    redis.call('ZREM', KEYS[2], all[i])
  end
end
return {redis.call('DEL', KEYS[1])}
