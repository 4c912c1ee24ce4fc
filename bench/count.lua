-- wrk script for bench/routing.sh: POSTs a chat request for WRK_MODEL, then prints how many answers
-- succeeded and the latency percentiles (wrk counts non-2xx answers as status errors).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_KEY") or "sk-bench")
wrk.body = '{"model":"' .. (os.getenv("WRK_MODEL") or "faulty") .. '","messages":[{"role":"user","content":"Say hello in one short sentence, please."}],"max_tokens":64}'
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d ok=%d failed=%d success_pct=%.3f p50_us=%d p90_us=%d p99_us=%d rps=%.0f\n",
    summary.requests, summary.requests - summary.errors.status, failed,
    100.0 * (summary.requests - failed) / math.max(summary.requests, 1),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.requests / (summary.duration / 1e6)))
end
