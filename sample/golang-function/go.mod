module example.com/racetrack/golangadder

go 1.21
