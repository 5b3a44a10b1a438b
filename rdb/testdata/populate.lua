-- Deterministic content for the RDB fixtures (run by make-fixtures.sh with
-- EVAL). It covers every encoding redis 7.0 writes: int-encoded and
-- LZF-compressible strings, listpack and hashtable hashes, quicklists with
-- packed and plain nodes, intsets and hashtable sets, listpack and skiplist
-- zsets, expiries, several DBs. Expiries are absolute times in 2100 so the
-- fixtures never expire.
local function call(...) return redis.call(...) end

call('SELECT', 0)
call('SET', 's:empty', '')
call('SET', 's:int8', '100')
call('SET', 's:int16', '-30000')
call('SET', 's:int32', '2000000000')
call('SET', 's:int64', '9223372036854775807')
call('SET', 's:notint', '007')
call('SET', 's:negzero', '-0')
call('SET', 's:float', '3.14')
call('SET', 's:20', string.rep('a', 20))
call('SET', 's:21', string.rep('a', 21))
call('SET', 's:text', string.rep('the quick brown fox jumps over the lazy dog ', 250))
call('SET', 's:binary', '\0\1\2\r\n\255' .. string.char(200, 201, 0))
call('SET', '12345', 'integer key name')
call('SET', 's:ttl', 'expires')
call('PEXPIREAT', 's:ttl', '4102444800123')

call('HSET', 'h:small', 'f1', 'v1', 'f2', '2', 'n', '-77', 'empty', '', '', 'empty name')
for i = 1, 1000 do
  call('HSET', 'h:big', 'field:' .. i, 'value-' .. i .. string.rep('x', i % 50))
end
call('HSET', 'h:bigvalue', 'a', string.rep('v', 100), 'b', 'c')
call('HSET', 'h:ttl', 'a', 'b')
call('EXPIREAT', 'h:ttl', '4102444800')

call('RPUSH', 'l:small', 'a', '1', '-5', '', 'b', '5000000000')
for i = 1, 2000 do
  call('RPUSH', 'l:big', 'elem-' .. i, tostring(i * 37 - 5000))
end
-- With DEBUG QUICKLIST-PACKED-THRESHOLD 1000, the 2000-byte element is a
-- plain node.
call('RPUSH', 'l:plain', 'small', string.rep('P', 2000), 'after')

call('SADD', 'set:ints', '1', '2', '3', '-5', '100000', '5000000000')
for i = 1, 600 do
  call('SADD', 'set:bigints', tostring(i * 1000 - 300000))
end
call('SADD', 'set:strs', 'a', 'b', 'c', '\0', '')

call('ZADD', 'z:small', '1', 'a', '2.5', 'b', '-3', 'c', '0.1', 'd', 'inf', 'pinf', '-inf', 'ninf', '1e300', 'huge')
for i = 1, 300 do
  call('ZADD', 'z:big', tostring(i * 1.25 - 100), 'm' .. i)
end

call('SELECT', 1)
call('SET', 'db1:s', 'in db 1')
call('PEXPIREAT', 'db1:s', '4102444800999')
call('HSET', 'db1:h', 'a', 'b')
call('SELECT', 5)
call('RPUSH', 'db5:l', 'x', 'y')
call('EXPIREAT', 'db5:l', '4102444800')
call('SELECT', 15)
call('SET', 'db15', 'last db')
return 'OK'
