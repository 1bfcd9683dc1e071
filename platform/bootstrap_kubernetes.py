"""The platform on Kubernetes.

Per component (lifecycle, pub, dashboard): a Deployment and a Service; one Ingress routes
`/lifecycle`, `/dashboard` and `/pub` to them. PostgreSQL runs as a StatefulSet on a
PersistentVolumeClaim; the lifecycle keeps its data directory (the Pulumi state of the job stacks) on
another. Secrets hold the generated or given credentials. The lifecycle's ServiceAccount may manage
job resources in the jobs namespace only (Role + RoleBinding), and a NetworkPolicy there lets job
pods accept traffic only on the auth sidecar's port.

Images come from `racetrack:registry`: `<registry>/platform:<imageTag>` (platform/images/platform),
`<registry>/platform-pub:<imageTag>` (the same Dockerfile, `--target pub`: job pods' auth sidecar) and
`<registry>/platform-postgres:<imageTag>` (platform/images/postgres).
With `racetrack:renderDir` the objects are written as YAML files (no cluster needed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from bootstrap_config import PlatformConfig

__all__ = ["declare", "SIDECAR_PORT"]

SIDECAR_PORT = 7005  # the job pods' auth sidecar (stacks/kubernetes/program.py)
PORTS = {"lifecycle": 7002, "dashboard": 7003, "pub": 7005}
DATA = "/var/lib/racetrack"
LOCKED_DOWN = {
    "allow_privilege_escalation": False,
    "capabilities": {"drop": ["ALL"]},
    "run_as_non_root": True,
}


def _provider(config: PlatformConfig) -> k8s.Provider:
    render_dir = config.get("renderDir")
    if render_dir:
        # Before pulumi-kubernetes 4.32 an ambient kubeconfig is refused in render mode.
        os.environ.pop("KUBECONFIG", None)
        path = Path(render_dir)
        if not path.is_absolute():
            # Relative to the checkout (scripts/platform.sh runs Pulumi in a project in the data directory).
            path = Path(__file__).resolve().parents[1] / path
        return k8s.Provider("render", render_yaml_to_directory=str(path))
    return k8s.Provider("cluster", kubeconfig=config.get("kubeconfig"), context=config.get("context"))


def declare(config: PlatformConfig) -> dict[str, Any]:
    opts = pulumi.ResourceOptions(provider=_provider(config))
    namespace = config.get("namespace", "racetrack")
    jobs_namespace = config.get("jobsNamespace", "racetrack-jobs")
    registry = str(config.get("registry", "")).rstrip("/")
    tag = str(config.get("imageTag", "latest"))
    image = f"{registry}/platform:{tag}" if registry else f"racetrack/platform:{tag}"
    postgres_image = (
        f"{registry}/platform-postgres:{tag}" if registry else f"racetrack/platform-postgres:{tag}"
    )
    pub_image = f"{registry}/platform-pub:{tag}" if registry else f"racetrack/platform-pub:{tag}"
    replicas = int(config.get("replicas", 1))
    host = config.get("host")
    base_url = f"https://{host}" if host else ""
    labels = {"app.kubernetes.io/part-of": "racetrack"}

    for ns in dict.fromkeys([namespace, jobs_namespace]):
        k8s.core.v1.Namespace(f"namespace-{ns}", metadata={"name": ns, "labels": labels}, opts=opts)

    secrets = config.secrets
    database_url = secrets["databasePassword"].apply(
        lambda password: (
            f"postgresql+psycopg://racetrack:{password}@postgres.{namespace}.svc.cluster.local:5432/racetrack"
        )
    )
    k8s.core.v1.Secret(
        "secrets",
        metadata={"name": "racetrack-secrets", "namespace": namespace, "labels": labels},
        string_data=pulumi.Output.secret(
            {
                "admin-password": secrets["adminPassword"],
                "auth-key": secrets["authKey"],
                "internal-token": secrets["internalToken"],
                "pulumi-passphrase": secrets["pulumiPassphrase"],
                "database-password": secrets["databasePassword"],
                "database-url": database_url,
            }
        ),
        opts=opts,
    )
    # The auth sidecars of job pods read pub's internal token in the jobs namespace.
    k8s.core.v1.Secret(
        "jobs-internal-token",
        metadata={"name": "racetrack-internal-token", "namespace": jobs_namespace, "labels": labels},
        string_data=pulumi.Output.secret({"token": secrets["internalToken"]}),
        opts=opts,
    )

    _declare_postgres(config, namespace, postgres_image, labels, opts)
    account = _declare_rbac(namespace, jobs_namespace, labels, opts)
    _declare_network_policy(jobs_namespace, labels, opts)

    # Each job's pages get a host of their own under the jobs domain (docs/security.md): DNS for
    # *.<jobs domain> points at the Ingress controller, with a wildcard certificate for it.
    jobs_domain = config.get("jobsDomain") or (f"jobs.{host}" if host else None)
    job_hosts = (
        {"jobs_url": f"https://{jobs_domain}", "dashboard_url": f"{base_url}/dashboard"}
        if jobs_domain and base_url
        else {}
    )
    env = {
        "RACETRACK_DATA_DIR": DATA,
        "RACETRACK_LIFECYCLE_HOST": "0.0.0.0",
        "RACETRACK_PUB_HOST": "0.0.0.0",
        "RACETRACK_LIFECYCLE_PORT": str(PORTS["lifecycle"]),
        "RACETRACK_DASHBOARD_PORT": str(PORTS["dashboard"]),
        "RACETRACK_PUB_PORT": str(PORTS["pub"]),
        "RACETRACK_LIFECYCLE_URL": f"http://lifecycle.{namespace}.svc.cluster.local:{PORTS['lifecycle']}/lifecycle",
        "RACETRACK_ADMIN_USERNAME": config.admin_username,
        "RACETRACK_DEFAULT_INFRASTRUCTURE_TARGET": "kubernetes",
        "RACETRACK_KUBERNETES_SETTINGS": json.dumps(
            {
                "namespace": jobs_namespace,
                "registry": registry,
                "ingress_class": config.get("ingressClass", "nginx"),
                "pub_image": pub_image,
                "lifecycle_url": f"http://lifecycle.{namespace}.svc.cluster.local:{PORTS['lifecycle']}/lifecycle",
                "pub_url": f"http://pub.{namespace}.svc.cluster.local:{PORTS['pub']}/pub",
                "internal_token_secret": "racetrack-internal-token",
                **job_hosts,
            },
            sort_keys=True,
        ),
    }
    if jobs_domain:
        env["RACETRACK_JOBS_DOMAIN"] = jobs_domain
    if base_url:
        env.update(
            {
                "RACETRACK_PUB_URL": f"{base_url}/pub",
                "RACETRACK_DASHBOARD_URL": f"{base_url}/dashboard",
                "RACETRACK_SECURE_COOKIE": "true",
            }
        )
    secret_env = {
        "RACETRACK_DATABASE_URL": "database-url",
        "RACETRACK_ADMIN_PASSWORD": "admin-password",
        "RACETRACK_AUTH_KEY": "auth-key",
        "RACETRACK_INTERNAL_TOKEN": "internal-token",
        "RACETRACK_PULUMI_PASSPHRASE": "pulumi-passphrase",
    }
    k8s.core.v1.PersistentVolumeClaim(
        "lifecycle-data",
        metadata={
            "name": "lifecycle-data",
            "namespace": namespace,
            "labels": labels,
        },
        spec={
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": config.get("lifecycleStorage", "5Gi")}},
        },
        opts=opts,
    )
    for name, port in PORTS.items():
        volumes = (
            [{"name": "data", "persistent_volume_claim": {"claim_name": "lifecycle-data"}}]
            if name == "lifecycle"
            else [{"name": "data", "empty_dir": {}}]
        )
        _declare_component(
            name,
            port,
            namespace=namespace,
            image=image,
            labels=labels,
            opts=opts,
            env={**env, **config.env_for(name)},
            secret_env=secret_env,
            volumes=volumes,
            # One lifecycle: it owns the job stacks' state on a ReadWriteOnce volume.
            replicas=1 if name == "lifecycle" else replicas,
            service_account=account if name == "lifecycle" else None,
        )
    paths = [
        {
            "path": f"/{name}",
            "path_type": "Prefix",
            "backend": {"service": {"name": name, "port": {"name": "http"}}},
        }
        for name in PORTS
    ]
    rule: dict[str, Any] = {"http": {"paths": paths}}
    if host:
        rule["host"] = host
    k8s.networking.v1.Ingress(
        "ingress",
        metadata={"name": "racetrack", "namespace": namespace, "labels": labels},
        spec={"ingress_class_name": config.get("ingressClass", "nginx"), "rules": [rule]},
        opts=opts,
    )
    return {
        "lifecycleUrl": f"{base_url}/lifecycle",
        "dashboardUrl": f"{base_url}/dashboard",
        "pubUrl": f"{base_url}/pub",
        "adminUsername": config.admin_username,
        "adminPassword": secrets["adminPassword"],
        "adminToken": (
            "pulumi stack output adminPassword --show-secrets, log into the dashboard with it "
            "and copy your token, "
            f'or POST {{"username", "password"}} to {base_url}/lifecycle/api/v1/users/login; '
            "then `racetrack login <token>`"
        ),
        "namespace": namespace,
        "jobsNamespace": jobs_namespace,
        "jobStacksState": f"file://{DATA}/pulumi-state on the PersistentVolumeClaim lifecycle-data",
    }


def _declare_component(
    name: str,
    port: int,
    *,
    namespace: str,
    image: str,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
    env: dict[str, str],
    secret_env: dict[str, str],
    volumes: list[dict[str, Any]],
    replicas: int,
    service_account: str | None,
) -> None:
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "racetrack"}
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    env_list += [
        {"name": k, "value_from": {"secret_key_ref": {"name": "racetrack-secrets", "key": key}}}
        for k, key in sorted(secret_env.items())
    ]
    probe = {
        "http_get": {"path": f"/{name}/live", "port": "http"},
        "period_seconds": 10,
        "timeout_seconds": 3,
    }
    pod_spec: dict[str, Any] = {
        "security_context": {
            "run_as_user": 10001,
            "run_as_group": 10001,
            "fs_group": 10001,
            "run_as_non_root": True,
        },
        "containers": [
            {
                "name": name,
                "image": image,
                "image_pull_policy": "IfNotPresent",
                "args": ["python", "-m", f"api.{name}"],
                "ports": [{"name": "http", "container_port": port}],
                "env": env_list,
                "volume_mounts": [{"name": "data", "mount_path": DATA}],
                "startup_probe": {**probe, "failure_threshold": 30},
                "liveness_probe": probe,
                "readiness_probe": probe,
                "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
                "security_context": LOCKED_DOWN,
            }
        ],
        "volumes": volumes,
    }
    if service_account:
        pod_spec["service_account_name"] = service_account
    k8s.apps.v1.Deployment(
        name,
        metadata={"name": name, "namespace": namespace, "labels": {**labels, **selector}},
        spec={
            "replicas": replicas,
            "strategy": {"type": "Recreate"} if name == "lifecycle" else {"type": "RollingUpdate"},
            "selector": {"match_labels": selector},
            "template": {"metadata": {"labels": {**labels, **selector}}, "spec": pod_spec},
        },
        opts=opts,
    )
    k8s.core.v1.Service(
        name,
        metadata={"name": name, "namespace": namespace, "labels": {**labels, **selector}},
        spec={
            "selector": selector,
            "ports": [{"name": "http", "port": port, "target_port": "http"}],
        },
        opts=opts,
    )


def _declare_postgres(
    config: PlatformConfig, namespace: str, image: str, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> None:
    selector = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "racetrack"}
    claim: dict[str, Any] = {
        "access_modes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": config.get("postgresStorage", "10Gi")}},
    }
    if config.get("storageClass"):
        claim["storage_class_name"] = config.get("storageClass")
    k8s.core.v1.PersistentVolumeClaim(
        "postgres-data",
        metadata={"name": "postgres-data", "namespace": namespace, "labels": labels},
        spec=claim,
        opts=opts,
    )
    k8s.apps.v1.StatefulSet(
        "postgres",
        metadata={"name": "postgres", "namespace": namespace, "labels": {**labels, **selector}},
        spec={
            "service_name": "postgres",
            "replicas": 1,
            "selector": {"match_labels": selector},
            "template": {
                "metadata": {"labels": {**labels, **selector}},
                "spec": {
                    "security_context": {"fs_group": 999},
                    "containers": [
                        {
                            "name": "postgres",
                            "image": image,
                            "image_pull_policy": "IfNotPresent",
                            "ports": [{"name": "postgres", "container_port": 5432}],
                            "env": [
                                {"name": "POSTGRES_USER", "value": "racetrack"},
                                {"name": "POSTGRES_DB", "value": "racetrack"},
                                {
                                    "name": "POSTGRES_PASSWORD",
                                    "value_from": {
                                        "secret_key_ref": {
                                            "name": "racetrack-secrets",
                                            "key": "database-password",
                                        }
                                    },
                                },
                            ],
                            "volume_mounts": [{"name": "data", "mount_path": "/var/lib/postgresql/data"}],
                            "readiness_probe": {"tcp_socket": {"port": "postgres"}, "period_seconds": 5},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"memory": "1Gi"},
                            },
                            "security_context": {
                                "allow_privilege_escalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                    "volumes": [{"name": "data", "persistent_volume_claim": {"claim_name": "postgres-data"}}],
                },
            },
        },
        opts=opts,
    )
    k8s.core.v1.Service(
        "postgres",
        metadata={"name": "postgres", "namespace": namespace, "labels": labels},
        spec={
            "selector": selector,
            "ports": [{"name": "postgres", "port": 5432, "target_port": "postgres"}],
        },
        opts=opts,
    )


def _declare_rbac(
    namespace: str, jobs_namespace: str, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> str:
    name = "racetrack-lifecycle"
    k8s.core.v1.ServiceAccount(
        "lifecycle", metadata={"name": name, "namespace": namespace, "labels": labels}, opts=opts
    )
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    k8s.rbac.v1.Role(
        "lifecycle-jobs",
        metadata={"name": name, "namespace": jobs_namespace, "labels": labels},
        rules=[
            {"api_groups": [""], "resources": ["services", "secrets", "configmaps"], "verbs": verbs},
            {
                "api_groups": [""],
                "resources": ["pods", "pods/log", "events"],
                "verbs": ["get", "list", "watch"],
            },
            {"api_groups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": verbs},
            {"api_groups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": verbs},
        ],
        opts=opts,
    )
    k8s.rbac.v1.RoleBinding(
        "lifecycle-jobs",
        metadata={"name": name, "namespace": jobs_namespace, "labels": labels},
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        subjects=[{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        opts=opts,
    )
    return name


def _declare_network_policy(
    jobs_namespace: str, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> None:
    """Job pods accept connections on the auth sidecar's port only; the job's port stays inside the pod."""
    k8s.networking.v1.NetworkPolicy(
        "jobs-only-through-sidecar",
        metadata={
            "name": "racetrack-jobs-only-through-sidecar",
            "namespace": jobs_namespace,
            "labels": labels,
        },
        spec={
            "pod_selector": {"match_labels": {"racetrack/job": "true"}},
            "policy_types": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": SIDECAR_PORT}]}],
        },
        opts=opts,
    )
