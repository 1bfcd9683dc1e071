"""The `racetrack` command-line client. Imports nothing from the server side."""
