"""The Racetrack platform as a Pulumi program (`pulumi up` in the repository root; see README).

The stack's `racetrack:target` picks where it goes: `docker` (this machine's Docker engine) or
`kubernetes` (a cluster, or YAML files when `racetrack:renderDir` is set). This folder is not a
package: the language host runs this file with the folder on sys.path, and the modules beside it
(`bootstrap_*`) are imported by their plain names.
"""

from __future__ import annotations

import pulumi
from bootstrap_config import load_config

config = load_config()
if config.target == "docker":
    import bootstrap_docker

    outputs = bootstrap_docker.declare(config)
elif config.target == "kubernetes":
    import bootstrap_kubernetes

    outputs = bootstrap_kubernetes.declare(config)
else:
    raise ValueError(f"racetrack:target must be docker or kubernetes, not {config.target!r}")

for key, value in outputs.items():
    pulumi.export(key, value)
