-- GET a path picked at random from a file (one path a line), given after `--`: wrk ... -- FILE SEED
local paths = {}

init = function(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(tonumber(args[2]) or os.time())
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
