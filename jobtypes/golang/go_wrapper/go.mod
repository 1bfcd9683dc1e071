module racetrack.local/gowrapper

go 1.21

require racetrack.local/jobhandler v0.0.0

replace racetrack.local/jobhandler => ../handler
