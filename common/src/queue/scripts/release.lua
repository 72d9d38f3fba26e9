-- Hand jobs back to their queue without using up an attempt (worker shutting down); they go
-- to the resume lane, served before the others.
-- KEYS: none fixed; derived from the prefix
-- ARGV[1]: prefix; ARGV[2+3i .. 4+3i] for job i: id, queue, token
-- Returns: the number of jobs handed back (a job whose lease was already lost is left alone)
local prefix = ARGV[1]
local n = 0
-- First every read and check (common.lua); only then any write.
local records = {}
for a = 2, #ARGV, 3 do
  local id, queue = ARGV[a], ARGV[a + 1]
  local jk = job_key(prefix, id)
  records[a] = read(jk, 'HMGET', jk, 'token', 'state')
  expect_type(queue_key(prefix, queue, 'leases'), 'zset')
  expect_type(queue_key(prefix, queue, 'resume'), 'stream')
end
for a = 2, #ARGV, 3 do
  local id, queue, token = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local jk = job_key(prefix, id)
  local r = records[a]
  if r[1] == token and r[2] == 'running' and redis.call('ZREM', queue_key(prefix, queue, 'leases'), id) == 1 then
    redis.call('HINCRBY', jk, 'attempts', -1)
    local sid = redis.call('XADD', queue_key(prefix, queue, 'resume'), '*', 'id', id)
    redis.call('HSET', jk, 'state', 'queued', 'stream', sid)
    n = n + 1
  end
end
return n
