-- POST a JSON body picked at random from a file (one body a line), given after `--`: wrk ... -- FILE SEED
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}

init = function(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  math.randomseed(tonumber(args[2]) or os.time())
end

request = function()
  return wrk.format("POST", nil, nil, bodies[math.random(#bodies)])
end
