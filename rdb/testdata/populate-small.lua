-- A small dataset with one key per encoding redis 7.0 writes, for
-- redis-7.0-small.rdb: the fuzz seed (small inputs fuzz much faster than the
-- full fixtures). make-fixtures.sh lowers the listpack limits first, so that
-- three elements are enough for the hashtable/skiplist encodings.
local function call(...) return redis.call(...) end
call('SELECT', 0)
call('SET', 'int', '-1000')
call('SET', 'str', 'hello')
call('SET', 'lzf', string.rep('abcd', 25))
call('PEXPIREAT', 'lzf', '4102444800123')
call('HSET', 'h:lp', 'f', 'v', 'n', '7')
call('HSET', 'h:ht', 'a', '1', 'b', '2', 'c', '3')
call('ZADD', 'z:lp', '1', 'a', '-2.5', 'b')
call('ZADD', 'z:sl', '1', 'a', '2', 'b', '3', 'c')
call('SADD', 's:is', '1', '-2', '70000')
call('SADD', 's:ht', 'x', 'y')
call('RPUSH', 'l:lp', 'a', '1', 'b')
call('RPUSH', 'l:plain', 'a', string.rep('P', 1100), 'b')
call('SELECT', 2)
call('SET', 'db2', 'x')
call('EXPIREAT', 'db2', '4102444800')
return 'OK'
