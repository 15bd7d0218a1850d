-- loadtest/latency.lua — wrk's summary plus the percentiles wrk --latency
-- leaves out (p99.9), and every error class, in one parseable block.
-- Optional: LOADTEST_DELAY_MS (environment) makes each connection wait that
-- long between requests: a steady rate for the soak (connections x 1000/delay).
local delay_ms = tonumber(os.getenv("LOADTEST_DELAY_MS") or "0")
if delay_ms > 0 then
    delay = function() return delay_ms end
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("lua: requests %d in %.1f s = %.0f req/s\n", summary.requests,
        summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
    io.write(string.format("lua: latency ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000, latency.max / 1000))
    io.write(string.format("lua: errors connect %d read %d write %d timeout %d non-2xx %d\n",
        e.connect, e.read, e.write, e.timeout, e.status))
end
