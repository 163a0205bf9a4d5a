--[[
  Changes a tenant's plan at once (and optionally its elastic range or elastic
  state) and audits the change. The used-this-hour counter is kept, so this
  hour's remaining budget becomes max(0, new budget - used). A real change
  starts a new notification period and appends a `plan_changed` event to the
  outbox when the tenant's webhook asks for it.

  KEYS[1] tenant hash     KEYS[2] plans hash     KEYS[3] audit list of the tenant
  KEYS[4] webhook hash of the tenant   KEYS[5] outbox sorted set   KEYS[6] outbox events hash
  KEYS[7] outbox sequence counter (event ids 'ev_' .. 12 digits, in order of creation)

  ARGV[1] new plan        ARGV[2] now (epoch ms)  ARGV[3] UTC hour index of now
  ARGV[4] elastic mode: 'keep' | 'set' | 'clear'
  ARGV[5] elastic min plan   ARGV[6] elastic max plan   (mode 'set')
  ARGV[7] actor
  ARGV[8] plan the caller expects the tenant to be on ('' for any)
  ARGV[9] elastic low-hour streak to store ('' to leave)   ARGV[10] evaluated hour index ('' to leave)
  ARGV[11] tenant id

  Returns {1, oldPlan}
  Error codes:
    -1 tenant not found   -2 plan not found   -3 tenant not on the expected plan
    -4 elastic min plan has more tokens per hour than the max plan
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local newPlan = redis.call('HGET', KEYS[2], ARGV[1])
if not newPlan then return {-2} end
local hour = tonumber(ARGV[3])
local t = redis.call('HMGET', KEYS[1], 'plan', 'hour')
if ARGV[8] ~= '' and t[1] ~= ARGV[8] then return {-3} end
if ARGV[4] == 'set' then
  local minJson = redis.call('HGET', KEYS[2], ARGV[5])
  local maxJson = redis.call('HGET', KEYS[2], ARGV[6])
  if not minJson or not maxJson then return {-2} end
  if tonumber(cjson.decode(minJson).tokensPerHour) > tonumber(cjson.decode(maxJson).tokensPerHour) then return {-4} end
  redis.call('HSET', KEYS[1], 'emin', ARGV[5], 'emax', ARGV[6], 'below', 0, 'evalHour', '')
elseif ARGV[4] == 'clear' then
  redis.call('HDEL', KEYS[1], 'emin', 'emax')
  redis.call('HSET', KEYS[1], 'below', 0, 'evalHour', '')
end
if tonumber(t[2]) ~= hour then redis.call('HSET', KEYS[1], 'hour', hour, 'used', 0, 'lowSent', 0, 'exSent', 0) end
redis.call('HSET', KEYS[1], 'plan', ARGV[1])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'below', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'evalHour', ARGV[10]) end
if t[1] ~= ARGV[1] or ARGV[4] ~= 'keep' then
  redis.call('RPUSH', KEYS[3], cjson.encode({at = tonumber(ARGV[2]), kind = 'plan', fromPlan = t[1], toPlan = ARGV[1], actor = ARGV[7]}))
end
if t[1] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'lowSent', 0, 'exSent', 0)
  local events = redis.call('HGET', KEYS[4], 'events')
  if events and string.find(',' .. events .. ',', ',plan_changed,', 1, true) then
    local now = tonumber(ARGV[2])
    local id = string.format('ev_%012d', redis.call('INCR', KEYS[7]))
    redis.call('HSET', KEYS[6], id, cjson.encode({id = id, tenantId = ARGV[11], type = 'plan_changed', at = now,
      data = {fromPlan = t[1], toPlan = ARGV[1], actor = ARGV[7]}, attempts = 0}))
    redis.call('ZADD', KEYS[5], now, id)
  end
end
return {1, t[1]}
