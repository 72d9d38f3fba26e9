-- Operator repair of the dead-letter list: retry a dead job (same id, attempts reset) or delete it.
-- KEYS: none fixed; derived from the prefix
-- ARGV[1]: prefix; ARGV[2]: 'retry' or 'delete'; ARGV[3]: job id
-- Returns: 1 if done, 0 if the job is not in its queue's dead-letter list
local prefix, action, id = ARGV[1], ARGV[2], ARGV[3]
local jk = job_key(prefix, id)
-- First every read and check (common.lua); only then any write.
local r = read(jk, 'HMGET', jk, 'queue', 'lane', 'kind', 'parent')
if not r[1] then return 0 end
local dead = queue_key(prefix, r[1], 'dead')
if not read(dead, 'ZSCORE', dead, id) then return 0 end
expect_type(prefix .. 'jobs:finished', 'zset')
local chain = {}
if action ~= 'delete' then
  if not r[3] or r[3] == '' then
    -- An undecodable entry has nothing to run; retrying it would only bury it again.
    return redis.error_reply('job ' .. id .. ' was an undecodable queue entry and cannot be retried; delete it')
  end
  expect_type(queue_key(prefix, r[1], r[2] or 'high'), 'stream')
  chain = tree_chain(prefix, r[4])
end

redis.call('ZREM', dead, id)
redis.call('ZREM', prefix .. 'jobs:finished', id)
if action == 'delete' then
  -- Its ancestors' roll-ups still count it dead: deleting the record does not undo the failure.
  redis.call('DEL', jk, log_key(prefix, id), children_key(prefix, id), tree_key(prefix, id))
  return 1
end
redis.call('PERSIST', jk)
redis.call('PERSIST', log_key(prefix, id))
redis.call('PERSIST', children_key(prefix, id))
-- Tree roll-up (tree.lua): it is unfinished again under each ancestor.
redis.call('PERSIST', tree_key(prefix, id))
tree_roll_up(prefix, chain, id, {dead = -1, pending = 1}, 'remove', 0)
redis.call('HSET', jk, 'attempts', 0)
redis.call('HDEL', jk, 'finished')
local sid = redis.call('XADD', queue_key(prefix, r[1], r[2] or 'high'), '*', 'id', id)
redis.call('HSET', jk, 'state', 'queued', 'stream', sid)
return 1
