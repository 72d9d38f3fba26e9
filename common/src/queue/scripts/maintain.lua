-- Periodic upkeep of queues, safe to run from every worker at once: put jobs whose retry is
-- due back in their lane; take jobs whose lease expired (their worker died) away from that
-- worker and queue them again, or bury them if their attempts are used up; trim the dead list.
-- KEYS: none fixed; the keys of each queue named in ARGV are derived from the prefix
-- ARGV[1]: prefix; ARGV[2]: max attempts; ARGV[3]: most jobs to move per queue and kind of move;
-- ARGV[4]: dead retention seconds; ARGV[5..]: queue names
-- Returns: pairs of id and what happened: 'retry' (backoff over), 'requeued' (lease expired),
--   'dead' (lease expired on the last attempt)
local prefix, max_attempts, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local dead_ttl = tonumber(ARGV[4])
local now = now_ms()
local out = {}

-- First every read and check (common.lua); only then any write, so that a key of the wrong
-- type changes nothing.
local plans = {}
for q = 5, #ARGV do
  local queue = ARGV[q]
  for _, part in ipairs({'retry', 'leases', 'dead'}) do expect_type(queue_key(prefix, queue, part), 'zset') end
  for _, lane in ipairs({'high', 'low', 'resume'}) do expect_type(queue_key(prefix, queue, lane), 'stream') end
  local retry, leases = queue_key(prefix, queue, 'retry'), queue_key(prefix, queue, 'leases')
  local plan = {queue = queue, due = {}, expired = {}}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', retry, '-inf', now, 'LIMIT', 0, limit)) do
    local jk = job_key(prefix, id)
    local r = read(jk, 'HMGET', jk, 'state', 'lane')
    plan.due[#plan.due + 1] = {id = id, jk = jk, state = r[1], lane = r[2] or 'high'}
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)) do
    local jk = job_key(prefix, id)
    local r = read(jk, 'HMGET', jk, 'state', 'attempts', 'worker', 'parent')
    local job = {id = id, jk = jk, r = r}
    if r[1] == 'running' and tonumber(r[2] or '0') >= max_attempts then
      job.chain = tree_chain(prefix, r[4])
    end
    plan.expired[#plan.expired + 1] = job
  end
  plans[#plans + 1] = plan
end

-- A job whose backoff is over goes to the end of its lane; one interrupted by a dead worker
-- goes to the resume lane, served first, so it runs again at once and not behind the backlog.
local function requeue(queue, id, jk, lane)
  local sid = redis.call('XADD', queue_key(prefix, queue, lane), '*', 'id', id)
  redis.call('HSET', jk, 'state', 'queued', 'stream', sid)
end

for _, plan in ipairs(plans) do
  local queue = plan.queue
  local retry, leases = queue_key(prefix, queue, 'retry'), queue_key(prefix, queue, 'leases')
  for _, job in ipairs(plan.due) do
    local id, jk = job.id, job.jk
    redis.call('ZREM', retry, id)
    if job.state == 'queued' then
      requeue(queue, id, jk, job.lane)
      redis.call('HDEL', jk, 'retry_at')
      out[#out + 1] = id; out[#out + 1] = 'retry'
    end
  end
  for _, job in ipairs(plan.expired) do
    local id, jk, r = job.id, job.jk, job.r
    redis.call('ZREM', leases, id)
    if r[1] == 'running' then
      local msg = 'lease expired: worker ' .. (r[3] or '?') .. ' stopped renewing it during attempt ' .. (r[2] or '?')
      if job.chain then
        redis.call('HSET', jk, 'state', 'dead', 'finished', now, 'error', msg)
        redis.call('ZADD', queue_key(prefix, queue, 'dead'), now, id)
        redis.call('EXPIRE', jk, dead_ttl)
        redis.call('EXPIRE', log_key(prefix, id), dead_ttl)
        redis.call('EXPIRE', children_key(prefix, id), dead_ttl)
        -- Tree roll-up (tree.lua).
        redis.call('EXPIRE', tree_key(prefix, id), dead_ttl)
        tree_finished(prefix, job.chain, id, 'dead', now)
        out[#out + 1] = id; out[#out + 1] = 'dead'
      else
        redis.call('HSET', jk, 'error', msg)
        requeue(queue, id, jk, 'resume')
        out[#out + 1] = id; out[#out + 1] = 'requeued'
      end
    end
  end
  redis.call('ZREMRANGEBYSCORE', queue_key(prefix, queue, 'dead'), '-inf', now - dead_ttl * 1000)
end
return out
