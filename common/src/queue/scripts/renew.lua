-- Extend the leases a worker holds, and record its heartbeat.
-- KEYS[1]: the workers hash
-- ARGV[1]: prefix; ARGV[2]: lease ms; ARGV[3]: worker id; ARGV[4]: worker announcement JSON
-- ARGV[5+3i .. 7+3i] for job i: id, queue, token
-- Returns: {lost, cancel}: the ids whose lease this worker no longer holds (reaped, or finished
--   elsewhere), and the ids of held jobs an operator asked to cancel (cancel.lua)
local prefix, lease_ms, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3]
-- First every read and check (common.lua); only then any write.
expect_type(KEYS[1], 'hash')
local now = now_ms()
local lost, keep, cancel = {}, {}, {}
for a = 5, #ARGV, 3 do
  local id, queue, token = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local jk = job_key(prefix, id)
  local r = read(jk, 'HMGET', jk, 'token', 'state', 'cancel')
  local leases = queue_key(prefix, queue, 'leases')
  if r[1] == token and r[2] == 'running' and read(leases, 'ZSCORE', leases, id) then
    keep[#keep + 1] = {leases, id}
    if r[3] then cancel[#cancel + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
redis.call('HSET', KEYS[1], worker, ARGV[4])
for _, k in ipairs(keep) do redis.call('ZADD', k[1], 'XX', now + lease_ms, k[2]) end
return {lost, cancel}
