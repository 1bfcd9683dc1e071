"""What every layer of the platform shares and nothing else: the base error tree and protocol names.

`core` imports nothing from the project (and nothing outside the standard library), so `jobtypes`,
`stacks` and `api` can all build on it. Layers above: core < jobtypes < stacks < api
(see docs/architecture.md and tests/test_layers.py).
"""
