-- Describes every key of the current DB as one line:
--   <db> <type> <hex key> <PEXPIRETIME> <element count> <sha1 of content>
-- where the content is canonical: a string's hex; list elements in order,
-- set members sorted, hash "field=value" lines sorted (all hex); zset
-- "member=score" lines in rank order, the score as Redis replies it
-- (%.17g). rdb/fixtures_test.go computes the same lines from our decoder.
-- Run with LC_ALL=C so that Lua's string comparison is bytewise.
local db = ARGV[1]
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local out = {}
local keys = redis.call('KEYS', '*')
table.sort(keys)
for _, k in ipairs(keys) do
  local t = redis.call('TYPE', k)['ok']
  local lines = {}
  local v
  if t == 'string' then
    v = redis.call('GET', k)
    lines[1] = hex(v)
    v = {v}
  elseif t == 'list' then
    v = redis.call('LRANGE', k, 0, -1)
    for i, e in ipairs(v) do lines[i] = hex(e) .. '\n' end
  elseif t == 'set' then
    v = redis.call('SMEMBERS', k)
    for i, e in ipairs(v) do lines[i] = hex(e) .. '\n' end
    table.sort(lines)
  elseif t == 'hash' then
    v = redis.call('HGETALL', k)
    for i = 1, #v, 2 do lines[#lines + 1] = hex(v[i]) .. '=' .. hex(v[i + 1]) .. '\n' end
    table.sort(lines)
  elseif t == 'zset' then
    v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
    for i = 1, #v, 2 do lines[#lines + 1] = hex(v[i]) .. '=' .. v[i + 1] .. '\n' end
  else
    return redis.error_reply('unexpected type ' .. t .. ' for key ' .. k)
  end
  local count = #lines
  if t == 'string' then count = string.len(v[1]) end
  out[#out + 1] = table.concat({db, t, hex(k), tostring(redis.call('PEXPIRETIME', k)), tostring(count), redis.sha1hex(table.concat(lines))}, ' ')
end
return out
