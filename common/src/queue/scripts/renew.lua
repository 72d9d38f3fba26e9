-- Extend the leases a worker holds, and record its heartbeat.
-- KEYS[1]: the workers hash
-- ARGV[1]: prefix; ARGV[2]: lease ms; ARGV[3]: worker id; ARGV[4]: worker announcement JSON
-- ARGV[5+3i .. 7+3i] for job i: id, queue, token
-- Returns: the ids whose lease this worker no longer holds (reaped, or finished elsewhere)
local prefix, lease_ms, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3]
redis.call('HSET', KEYS[1], worker, ARGV[4])
local now = now_ms()
local lost = {}
for a = 5, #ARGV, 3 do
  local id, queue, token = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local r = redis.call('HMGET', job_key(prefix, id), 'token', 'state')
  local leases = queue_key(prefix, queue, 'leases')
  if r[1] == token and r[2] == 'running' and redis.call('ZSCORE', leases, id) then
    redis.call('ZADD', leases, 'XX', now + lease_ms, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
