--[[
  Creates a tenant on a plan, with an optional elastic range.

  KEYS[1] tenant hash     KEYS[2] tenants sorted set (score: creation ms)   KEYS[3] plans hash

  ARGV[1] tenant id       ARGV[2] name           ARGV[3] plan
  ARGV[4] now (epoch ms)  ARGV[5] UTC hour index of now
  ARGV[6] elastic min plan ('' for none)   ARGV[7] elastic max plan ('' for none)

  Returns {1}
  Error codes:
    -2 plan not found     -4 elastic min plan above max plan     -5 tenant id already exists
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return {-5} end
if not redis.call('HGET', KEYS[3], ARGV[3]) then return {-2} end
if ARGV[6] ~= '' then
  local minJson = redis.call('HGET', KEYS[3], ARGV[6])
  local maxJson = redis.call('HGET', KEYS[3], ARGV[7])
  if not minJson or not maxJson then return {-2} end
  if tonumber(cjson.decode(minJson).tokensPerHour) > tonumber(cjson.decode(maxJson).tokensPerHour) then return {-4} end
  redis.call('HSET', KEYS[1], 'emin', ARGV[6], 'emax', ARGV[7])
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'plan', ARGV[3], 'createdAt', ARGV[4],
  'topup', 0, 'hour', ARGV[5], 'used', 0, 'below', 0, 'evalHour', '')
redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[1])
return {1}
