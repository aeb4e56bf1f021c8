-- wrk script: POST the JSON file named by the BODY environment variable to every request.
-- Used by scripts/bench-peers.sh and scripts/bench-mock.sh.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.body = f:read("*a")
f:close()
