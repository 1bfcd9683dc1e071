"""One module per command group; `client.main` mounts them."""
