"""`python -m api.pub [--sidecar] [--host H]... [--port P]`: pub, the Go gateway with its async service."""

from ._launcher import main

if __name__ == "__main__":
    main()
