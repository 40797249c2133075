-- wrk script of scripts/bench: every request is the same POST a Relay worker sends (same path, headers and a
-- 250-byte event body as bench_producer writes), so W is the receiver's capacity for exactly that request.
local pad = string.rep("x", 250)
local body = '{"id":"evt_wrk_12345","type":"bench.order","timestamp":"2026-01-01T00:00:00Z",' ..
    '"data":{"ts":1767225600000000000,"seq":12345,"k":"key-1234","pad":"'
body = body .. string.sub(pad, 1, 250 - #body - 3) .. '"}}'
wrk.method = "POST"
wrk.path = os.getenv("BENCH_WRK_PATH") or "/ok/wrk"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "relay/0.1.0"
wrk.headers["webhook-id"] = "evt_wrk_12345"
wrk.headers["webhook-timestamp"] = "1767225600"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
