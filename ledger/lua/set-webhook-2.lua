--[[
  Sets (or replaces) a tenant's webhook and starts a new notification period.

  KEYS[1] tenant hash     KEYS[2] webhook hash of the tenant

  ARGV[1] url   ARGV[2] secret   ARGV[3] events (comma list)
  ARGV[4] threshold ('' for none)   ARGV[5] now (epoch ms)

  Returns {1}
  Error codes:
    -1 tenant not found
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'url', ARGV[1], 'secret', ARGV[2], 'events', ARGV[3], 'threshold', ARGV[4], 'createdAt', ARGV[5])
redis.call('HSET', KEYS[1], 'lowSent', 0, 'exSent', 0)
return {1}
