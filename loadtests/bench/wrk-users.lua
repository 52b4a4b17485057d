-- wrk script for the overhead bench's one-query endpoint: GET /users/{id}, ids uniform in 1..max from a
-- fixed seed, so every variant of a round sees the same id sequence (as the autocannon runs do).
--   wrk ... -s loadtests/bench/wrk-users.lua http://127.0.0.1:PORT -- SEED MAX
local max = 1000

function init(args)
  math.randomseed(tonumber(args[1]) or 1)
  max = tonumber(args[2]) or max
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max))
end
