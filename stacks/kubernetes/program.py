"""The Pulumi program of a job family on Kubernetes: a pure function of its FamilySpec.

Per version: its images (built with the local engine and pushed to `registry`: stacks/kubernetes/
resources.py; the Deployment names them by digest), a Secret with its secret variables, a Deployment
whose pod holds the job container (and any extra image of its job type) plus an auth sidecar (pub's
Go gateway in its sidecar form: `sidecar_image`, built from the gateway binary, else `pub_image`,
configured by RACETRACK_* variables) that alone exposes a port, a NetworkPolicy that admits traffic
to that port only (the job's own port answers the sidecar alone, over the pod's loopback), a Service
in front of the sidecar, and Ingress rules routing `/pub/job/<name>/<version>/` to it. The provider
awaits each Deployment's rollout, so an update succeeds only once the new pods are ready.
`latest` routes to the version the spec names. With `jobs_url`
in the target settings (https://<jobs domain>), the same routes also answer on the family's own host
<name>.<jobs domain>, where browsers see the job's pages (docs/security.md). With `render_dir`
in the target settings the objects are written as YAML instead of applied, which needs no cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from jobtypes.build import JOB_UID
from stacks.docker.program import image_inputs
from stacks.kubernetes.resources import RegistryImage
from stacks.spec import FamilySpec, VersionSpec, resource_name

__all__ = ["program", "DEFAULTS"]

DEFAULTS: dict[str, Any] = {
    "namespace": "racetrack-jobs",
    "registry": "",
    "ingress_class": "nginx",
    "pub_image": "racetrack/pub:latest",
    "sidecar_port": 7005,
    "lifecycle_url": "http://lifecycle.racetrack.svc.cluster.local:7002/lifecycle",
    "pub_url": "http://pub.racetrack.svc.cluster.local:7005/pub",
    "internal_token_secret": "racetrack-internal-token",
    "memory_min": "256Mi",
    "memory_max": "1Gi",
    "cpu_min": "10m",
    "cpu_max": "1000m",
}


def program(spec: FamilySpec) -> Callable[[], None]:
    def declare() -> None:
        settings = {**DEFAULTS, **spec.target_settings}
        if settings.get("render_dir"):
            provider = k8s.Provider("render", render_yaml_to_directory=settings["render_dir"])
        else:
            provider = k8s.Provider(
                "cluster", kubeconfig=settings.get("kubeconfig"), context=settings.get("context")
            )
        opts = pulumi.ResourceOptions(provider=provider)
        sidecar = _sidecar_image(settings)
        services: dict[str, str] = {}
        outputs: dict[str, Any] = {}
        for version in spec.versions:
            service = _declare_version(spec, version, settings, opts, sidecar)
            services[version.version] = resource_name(spec.family, version.version)
            outputs[version.version] = {
                "service": service.metadata.name,
                "address": service.spec.cluster_ip.apply(lambda ip: f"{ip}:80" if ip else ""),
            }
        _declare_ingress(spec, services, settings, opts)
        pulumi.export("versions", outputs)
        pulumi.export("latest", spec.latest)
        pulumi.export("revision", spec.revision)

    return declare


def _image_ref(settings: dict[str, Any], tag: str) -> str:
    return f"{settings['registry'].rstrip('/')}/{tag}" if settings["registry"] else tag


def _sidecar_image(settings: dict[str, Any]) -> pulumi.Input[str]:
    """The auth sidecar's image: built from pub's gateway binary and pushed like a job's images, when
    the target prepared its build (`sidecar_image`), else `pub_image` as it is named."""
    build = settings.get("sidecar_image")
    if not build or settings.get("render_dir"):
        return str(settings["pub_image"])
    return RegistryImage(
        "pub-sidecar-image",
        {
            **build,
            "labels": {"racetrack/resource": "sidecar"},
            "role": "sidecar",
            "registry": settings["registry"],
            "build_settings": settings.get("build_settings") or {},
        },
    ).reference


def _job_images(
    name: str, version: VersionSpec, labels: dict[str, str], settings: dict[str, Any]
) -> list[pulumi.Input[str]]:
    """Digest-pinned references of the version's images, pushed to the registry (tags when rendering)."""
    if settings.get("render_dir"):
        return [_image_ref(settings, image.tag) for image in version.images]
    return [
        RegistryImage(
            f"{name}-{image.role}-image",
            {**image_inputs(image, labels, settings), "registry": settings["registry"]},
        ).reference
        for image in version.images
    ]


def _declare_version(
    spec: FamilySpec,
    version: VersionSpec,
    settings: dict[str, Any],
    opts: pulumi.ResourceOptions,
    sidecar_image: pulumi.Input[str],
) -> k8s.core.v1.Service:
    name = resource_name(spec.family, version.version)
    namespace = settings["namespace"]
    labels = {
        "app": name,
        "app.kubernetes.io/name": name,
        "racetrack/job": "true",
        "racetrack/job-name": spec.family,
        "racetrack/job-version": version.version,
        "racetrack/resource": "job",
    }
    run = version.run
    # Containers of one pod share localhost: the main container finds the others there.
    addresses = {
        image.address_env: f"localhost:{image.port}" for image in version.images[1:] if image.address_env
    }
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted({**run.env, **addresses}.items())]
    if run.secret_env:
        k8s.core.v1.Secret(
            f"{name}-secrets",
            metadata={"name": f"{name}-secrets", "namespace": namespace, "labels": labels},
            string_data=pulumi.Output.secret(dict(run.secret_env)),
            opts=opts,
        )
        env += [
            {"name": key, "value_from": {"secret_key_ref": {"name": f"{name}-secrets", "key": key}}}
            for key in sorted(run.secret_env)
        ]
    resources = {
        "requests": {
            "memory": run.memory_min or settings["memory_min"],
            "cpu": run.cpu_min or settings["cpu_min"],
        },
        "limits": {
            "memory": run.memory_max or settings["memory_max"],
            "cpu": run.cpu_max or settings["cpu_max"],
        },
    }
    locked_down = {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "run_as_non_root": True,
        # Job code may write beside itself (caches, temporary files): only the sidecar's root is read-only.
        "read_only_root_filesystem": False,
    }
    references = _job_images(name, version, labels, settings)
    containers = []
    for index, (image, reference) in enumerate(zip(version.images, references, strict=True)):
        probe = {
            "http_get": {"path": "/live", "port": image.port},
            "period_seconds": 10,
            "timeout_seconds": 3,
        }
        container: dict[str, Any] = {
            "name": "job" if index == 0 else image.role,
            "image": reference,
            "image_pull_policy": "IfNotPresent",
            "env": env,
            "resources": resources,
            "security_context": locked_down,
        }
        if index == 0:
            container["startup_probe"] = {**probe, "failure_threshold": 90}
            container["liveness_probe"] = probe
            container["readiness_probe"] = {**probe, "http_get": {"path": "/ready", "port": image.port}}
        containers.append(container)
    job_port = version.main_image.port
    containers.append(
        {
            "name": "auth",
            "image": sidecar_image,
            "image_pull_policy": "IfNotPresent",
            "ports": [{"name": "auth", "container_port": settings["sidecar_port"]}],
            "env": [
                {"name": "RACETRACK_PUB_SIDECAR_TARGET", "value": f"127.0.0.1:{job_port}"},
                {"name": "RACETRACK_PUB_SIDECAR_JOB_NAME", "value": spec.family},
                {"name": "RACETRACK_PUB_SIDECAR_JOB_VERSION", "value": version.version},
                {"name": "RACETRACK_PUB_HOST", "value": "0.0.0.0"},
                {"name": "RACETRACK_PUB_PORT", "value": str(settings["sidecar_port"])},
                {"name": "RACETRACK_LIFECYCLE_URL", "value": settings["lifecycle_url"]},
                *_job_host_env(settings),
                {
                    "name": "RACETRACK_INTERNAL_TOKEN",
                    "value_from": {
                        "secret_key_ref": {"name": settings["internal_token_secret"], "key": "token"}
                    },
                },
            ],
            "readiness_probe": {"http_get": {"path": "/ready", "port": settings["sidecar_port"]}},
            "resources": {
                "requests": {"memory": "32Mi", "cpu": "10m"},
                "limits": {"memory": "256Mi", "cpu": "1000m"},
            },
            "security_context": {**locked_down, "read_only_root_filesystem": True},
        }
    )
    k8s.apps.v1.Deployment(
        name,
        metadata={
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                "racetrack-deployment-date": str(version.deployment_timestamp),
                # The stack owns its Deployments: a reconcile takes back fields changed by hand (a
                # `kubectl scale`), where server-side apply would refuse them as another manager's.
                "pulumi.com/patchForce": "true",
            },
        },
        spec={
            "replicas": run.replicas,
            "selector": {"match_labels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"racetrack-deployment-date": str(version.deployment_timestamp)},
                },
                "spec": {
                    # The user job images are built for; the restricted Pod Security Standard's profile.
                    "security_context": {
                        "run_as_user": JOB_UID,
                        "run_as_group": JOB_UID,
                        "fs_group": JOB_UID,
                        "run_as_non_root": True,
                        "seccomp_profile": {"type": "RuntimeDefault"},
                    },
                    "automount_service_account_token": False,
                    "enable_service_links": False,
                    "affinity": {
                        "pod_anti_affinity": {
                            "preferred_during_scheduling_ignored_during_execution": [
                                {
                                    "weight": 100,
                                    "pod_affinity_term": {
                                        "label_selector": {"match_labels": {"app": name}},
                                        "topology_key": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": containers,
                },
            },
        },
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="10m", update="10m"))
        ),
    )
    # Traffic into the pod reaches the sidecar's port only; the job's port answers nobody outside it.
    k8s.networking.v1.NetworkPolicy(
        f"{name}-sidecar-only",
        metadata={"name": f"{name}-sidecar-only", "namespace": namespace, "labels": labels},
        spec={
            "pod_selector": {"match_labels": {"app": name}},
            "policy_types": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": settings["sidecar_port"]}]}],
        },
        opts=opts,
    )
    return k8s.core.v1.Service(
        name,
        metadata={"name": name, "namespace": namespace, "labels": labels},
        spec={"selector": {"app": name}, "ports": [{"name": "auth", "port": 80, "target_port": "auth"}]},
        opts=opts,
    )


def _job_host_env(settings: dict[str, Any]) -> list[dict[str, str]]:
    """How the sidecar serves the job's own host (<family>.<jobs_domain>, docs/security.md)."""
    env = []
    if settings.get("jobs_url"):
        env.append({"name": "RACETRACK_PUB_JOBS_URL", "value": settings["jobs_url"]})
        secure = str(settings["jobs_url"]).startswith("https://") or bool(settings.get("secure_cookie"))
        env.append({"name": "RACETRACK_PUB_SECURE_COOKIE", "value": "true" if secure else "false"})
    if settings.get("dashboard_url"):
        env.append({"name": "RACETRACK_PUB_DASHBOARD_URL", "value": settings["dashboard_url"]})
    return env


def _declare_ingress(
    spec: FamilySpec, services: dict[str, str], settings: dict[str, Any], opts: pulumi.ResourceOptions
) -> None:
    if not services:
        return
    routes = dict(services)
    if spec.latest in services:
        routes["latest"] = services[spec.latest]
    paths = [
        {
            "path": f"/pub/job/{spec.family}/{version}/",
            "path_type": "Prefix",
            "backend": {"service": {"name": service, "port": {"name": "auth"}}},
        }
        for version, service in sorted(routes.items())
    ]
    rules: list[dict[str, Any]] = [{"http": {"paths": paths}}]
    if settings.get("jobs_url"):
        # The family's own host serves its pages to browsers; "/" (the ticket exchange, the redirect
        # to latest) goes to the latest version's sidecar.
        host = f"{spec.family}.{urlsplit(settings['jobs_url']).hostname}"
        root = routes.get("latest") or next(iter(sorted(routes.values())))
        home = {
            "path": "/",
            "path_type": "Prefix",
            "backend": {"service": {"name": root, "port": {"name": "auth"}}},
        }
        rules.append({"host": host, "http": {"paths": [*paths, home]}})
    name = f"job-{spec.family}"
    k8s.networking.v1.Ingress(
        name,
        metadata={
            "name": name,
            "namespace": settings["namespace"],
            "labels": {"racetrack/job-name": spec.family},
            # An Ingress is "ready" when its controller writes an address into its status, which not
            # every controller does; the Deployments behind it are what deploys wait for.
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        spec={"ingress_class_name": settings["ingress_class"], "rules": rules},
        opts=opts,
    )
