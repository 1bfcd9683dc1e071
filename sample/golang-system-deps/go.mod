module example.com/racetrack/jqjob

go 1.21
