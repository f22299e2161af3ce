-- Campaign-style deliveries (nobody waiting) straight into the SMS queue, as rp_delivery_to_json
-- (gateway/delivery.c) writes them: origin "o":1, a deadline a day ahead, no reply list.
-- KEYS: the channel's shard streams (rp:q:{SMS:0} ...), filled round-robin.
-- ARGV[1] app id, ARGV[2] count, ARGV[3] first index, ARGV[4] now (ms). Returns the count.
local app, n, first, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = first, first + n - 1 do
  local to = string.format('+1555%07d', i % 10000000)
  local d = '{"id":"' .. string.format('bench-%012d', i) .. '","rq":"bench-campaign","app":"' ..
    app .. '","ch":"SMS","to":"' .. to .. '","key":"' .. to .. '","c":{"Body":"bench"},"t0":' ..
    now .. ',"dl":' .. (now + 86400000) .. ',"n":0,"o":1,"cp":"bench-campaign"}'
  redis.call('XADD', KEYS[(i % #KEYS) + 1], '*', 'd', d)
end
return n
