"""`python -m client` runs the racetrack CLI."""

from client.main import main

main()
