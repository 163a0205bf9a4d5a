--[[
  Stores a new API key of a tenant: only the key's SHA-256 is stored.

  KEYS[1] tenant hash     KEYS[2] key record (string, named by the key hash)
  KEYS[3] key list hash of the tenant (key id -> metadata JSON)

  ARGV[1] key id          ARGV[2] tenant id       ARGV[3] key hash (hex SHA-256)
  ARGV[4] display prefix  ARGV[5] now (epoch ms)

  Returns {1}
  Error codes:
    -1 tenant not found   -5 a key with this hash already exists
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {-5} end
redis.call('SET', KEYS[2], cjson.encode({tenantId = ARGV[2], keyId = ARGV[1], hash = ARGV[3]}))
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode({prefix = ARGV[4], createdAt = tonumber(ARGV[5])}))
return {1}
