"""A tenant's manifest and Dockerfile cannot read the platform's files, inject Dockerfile
instructions, start from another job's image or poison another family's build caches.

The attacks go through the real lifecycle or the real builder (BuildKit on the local engine).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import docker
import git
import pytest

import jobtypes
from api.errors import InvalidInput
from api.settings import Settings
from jobtypes.build import _jinja
from stacks.docker.build import build_image
from tests.deployer.lifecycle_process import ADMIN_PASSWORD, LifecycleProcess, remove_job_families

from .gitserver import GitHttpServer, make_repository
from .hostile import deploy, everything_said, folder_upload, manifest_of
from .jobs import SAMPLES, job_settings, load_manifest

pytestmark = pytest.mark.engine

BASE_IMAGE = Settings().base_image_python


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory):
    server = LifecycleProcess(tmp_path_factory.mktemp("builds") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def families():
    """Names of job families a test makes; their images and containers are removed afterwards."""
    names: list[str] = []
    yield names
    remove_job_families(names)


# Manifest paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../../../secrets/auth_key", "/proc/self/environ"])
def test_dockerfile_path_cannot_read_the_platforms_files(
    lifecycle: LifecycleProcess, families: list[str], path: str
) -> None:
    manifest = manifest_of("docker-proxy")
    manifest["jobtype_extra"]["dockerfile_path"] = path
    families.append(manifest["name"])
    deployment = deploy(lifecycle, manifest, build_context=folder_upload(SAMPLES / "docker-proxy"))
    said = everything_said(lifecycle, deployment).lower()
    signing_key = (lifecycle.data_dir / "secrets" / "auth_key").read_text().strip()
    assert signing_key.lower() not in said and ADMIN_PASSWORD.lower() not in said
    assert deployment["status"] == "failed"
    assert "jobtype_extra.dockerfile_path" in deployment["error"], deployment["error"]
    assert "leads outside the job's code" in deployment["error"] or "absolute path" in deployment["error"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "entrypoint_path",
            "../../../secrets/auth_key",
            "'../../../secrets/auth_key' leads outside the job's",
        ),
        ("entrypoint_path", "/etc/passwd", "'/etc/passwd' is an absolute path"),
        ("requirements_path", "../../x.txt", "'../../x.txt' leads outside"),
        ("requirements_path", "out/requirements.txt", "'out' is a symbolic link to"),
    ],
)
def test_manifest_paths_stay_in_the_context(tmp_path: Path, field: str, value: str, message: str) -> None:
    source = jobtypes.unpack_build_context(tmp_path / "ws", folder_upload(SAMPLES / "python-class"))
    if value.startswith("out/"):
        (source.context_dir / "out").symlink_to(tmp_path)  # as a git checkout could hold, pointing out
        (tmp_path / "requirements.txt").write_text("x\n")
    manifest = load_manifest(SAMPLES / "python-class")
    manifest["jobtype_extra"][field] = value
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        jobtypes.plan_build(
            manifest, source, build_id="b", settings=Settings(data_dir=tmp_path / "d").build_settings()
        )
    assert caught.value.message.startswith(f"jobtype_extra.{field}: ") or "symbolic link" in message


def test_a_git_checkout_with_a_link_out_is_refused_naming_it(tmp_path: Path) -> None:
    repo = make_repository(tmp_path, files={"job/job.py": "x = 1\n"})
    work = tmp_path / "jobs.git-work"
    (work / "job" / "passwd").symlink_to("/etc/passwd")
    (work / "job" / "inside").symlink_to("job.py")
    checkout = git.Repo(work)
    checkout.index.add(["job/passwd", "job/inside"])
    checkout.index.commit("links")
    checkout.create_remote("origin", str(repo))
    checkout.git.push("origin", "main")
    settings = Settings(data_dir=tmp_path / "data", allowed_internal_hosts=["127.0.0.1"])
    with GitHttpServer(tmp_path) as server:
        with pytest.raises(InvalidInput, match="'passwd' is a symbolic link to '/etc/passwd', outside"):
            jobtypes.fetch_git_source(
                tmp_path / "ws", remote=server.url + "jobs.git", directory="job", settings=settings
            )
        (work / "job" / "passwd").unlink()
        checkout.index.remove(["job/passwd"])
        checkout.index.commit("no link out")
        checkout.git.push("origin", "main")
        source = jobtypes.fetch_git_source(
            tmp_path / "ws", remote=server.url + "jobs.git", directory="job", settings=settings
        )
    assert (source.context_dir / "inside").is_symlink()  # a link inside the job's folder stays


# Values that reach Dockerfile templates --------------------------------------------------------

INJECTION = ["ca-certificates\n", "LABEL", "injected=yes\n", "RUN", "true"]


def test_a_line_break_in_system_dependencies_cannot_add_instructions(
    lifecycle: LifecycleProcess, families: list[str]
) -> None:
    manifest = manifest_of("python-class", system_dependencies=INJECTION)
    families.append(manifest["name"])
    deployment = deploy(lifecycle, manifest, build_context=folder_upload(SAMPLES / "python-class"))
    labelled = docker.from_env().images.list(
        filters={"label": [f"racetrack.job-name={manifest['name']}", "injected=yes"]}
    )
    assert labelled == [], "an instruction from the manifest reached the image"
    assert deployment["status"] == "failed"
    assert "system_dependencies[0]: holds a control character" in deployment["error"], deployment["error"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"build_env": {"GREETING": "hi\nUSER root"}}, "build_env.GREETING"),
        ({"build_env": {"A\n": "x"}}, "build_env.'A\\n' (its name)"),
        ({"labels": {"team": "a\rb"}}, "labels.team"),
        ({"version": "1.0.0\n"}, "version"),
        ({"jobtype_extra": {"entrypoint_path": "adder.py\n"}}, "jobtype_extra.entrypoint_path"),
        (
            {"jobtype_extra": {"entrypoint_path": "adder.py", "home_page": "/\u2028x"}},
            "jobtype_extra.home_page",
        ),
    ],
)
def test_control_characters_in_template_values_are_refused_naming_the_field(
    tmp_path: Path, change: dict, field: str
) -> None:
    source = jobtypes.unpack_build_context(tmp_path / "ws", folder_upload(SAMPLES / "python-class"))
    manifest = {**load_manifest(SAMPLES / "python-class"), **change}
    with pytest.raises(InvalidInput) as caught:
        jobtypes.plan_build(
            manifest, source, build_id="b", settings=Settings(data_dir=tmp_path / "d").build_settings()
        )
    assert caught.value.message.startswith(f"{field}: holds a control character"), caught.value.message


def test_build_env_cannot_set_builder_options(tmp_path: Path) -> None:
    source = jobtypes.unpack_build_context(tmp_path / "ws", folder_upload(SAMPLES / "docker-proxy"))
    manifest = {**load_manifest(SAMPLES / "docker-proxy"), "build_env": {"BUILDKIT_SYNTAX": "evil/frontend"}}
    with pytest.raises(InvalidInput, match="build_env.BUILDKIT_SYNTAX: names starting with BUILDKIT_"):
        jobtypes.plan_build(
            manifest, source, build_id="b", settings=Settings(data_dir=tmp_path / "d").build_settings()
        )


def _cat(image: str, path: str) -> str:
    """A file of an image, read by a container of it."""
    command = [
        "docker",
        "run",
        "--rm",
        "--name",
        f"racetrack-test-cat-{uuid.uuid4().hex[:8]}",
        image,
        "cat",
        path,
    ]
    return subprocess.run(command, capture_output=True, check=True).stdout.decode()


def test_quoted_values_reach_the_image_exactly(tmp_path: Path) -> None:
    """`dq` and `sh` quote for a real build: the values come out of the image byte for byte."""
    tricky = 'a "quoted" $HOME ${PATH} `id` \\ back\\slash \\" é \'single\''
    template = (
        f"FROM {BASE_IMAGE}\n"
        "ENV TRICKY={{ value | dq }}\n"
        "RUN printf '%s' {{ value | sh }} > /from-run\n"
    )
    (tmp_path / "Dockerfile").write_text(_jinja().from_string(template).render(value=tricky))
    tag = f"racetrack-test-quote:{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(
            ["docker", "build", "-q", "-t", tag, str(tmp_path)],
            check=True,
            capture_output=True,
            env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        env = docker.from_env().images.get(tag).attrs["Config"]["Env"]
        assert f"TRICKY={tricky}" in env
        assert _cat(tag, "/from-run") == tricky
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker.from_env().images.remove(tag, force=True)


# The job's own Dockerfile -----------------------------------------------------------------------


@pytest.fixture
def victim_image():
    """An image named like another tenant's job image (here the base image under that name)."""
    tag = f"racetrack/job-entrypoint/victim-{uuid.uuid4().hex[:6]}:1.0.0-b1"
    client = docker.from_env()
    client.images.get(BASE_IMAGE).tag(tag)
    yield tag
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag)


def _docker_proxy_with(tmp_path: Path, dockerfile: str) -> Path:
    folder = tmp_path / f"job-{uuid.uuid4().hex[:6]}"
    shutil.copytree(SAMPLES / "docker-proxy", folder)
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def test_a_job_cannot_build_from_another_jobs_image(
    lifecycle: LifecycleProcess, families: list[str], victim_image: str, tmp_path: Path
) -> None:
    folder = _docker_proxy_with(
        tmp_path, f'FROM {victim_image}\nCOPY server.py /app/server.py\nCMD ["python3", "/app/server.py"]\n'
    )
    manifest = manifest_of("docker-proxy")
    families.append(manifest["name"])
    deployment = deploy(lifecycle, manifest, build_context=folder_upload(folder))
    assert deployment["status"] == "failed"
    assert f"line 1 (FROM) uses '{victim_image}', an image of this platform" in deployment["error"], (
        deployment["error"]
    )
    built = docker.from_env().images.list(filters={"label": f"racetrack.job-name={manifest['name']}"})
    assert built == []


@pytest.mark.parametrize(
    "dockerfile, build_env, refused",
    [
        ("FROM {victim}\n", {}, "line 1 (FROM) uses"),
        ("FROM docker.io/{victim}\n", {}, "line 1 (FROM) uses"),
        ("FROM index.docker.io/{victim}\n", {}, "line 1 (FROM) uses"),
        ("FROM registry.example.com/{victim}\n", {}, "line 1 (FROM) uses"),
        ("ARG BASE={victim}\nFROM ${{BASE}}\n", {}, "line 2 (FROM) uses"),
        ("ARG BASE=python:3.11\nFROM $BASE\n", {"BASE": "{victim}"}, "line 2 (FROM) uses"),
        ("ARG B\nFROM ${{B:-{victim}}}\n", {}, "line 2 (FROM) uses"),
        ("FROM racetrack/job${{TARGETOS:+-entrypoint}}/x:1\n", {}, "line 1 (FROM) uses"),
        ("FROM {base} AS one\nCOPY --from={victim} /etc/hostname /x\n", {}, "line 2 (COPY) uses"),
        ("FROM {base}\nRUN --mount=type=bind,from={victim},target=/v true\n", {}, "line 2 (RUN) uses"),
        ("FROM {base}\nRUN --mount=type=cache,target=/c,from={victim} true\n", {}, "line 2 (RUN) uses"),
        ("# syntax={victim}\nFROM {base}\n", {}, "the # syntax= line uses"),
        ("FROM racetrack/platform:latest\n", {}, "line 1 (FROM) uses"),
        ("FROM {base}\nCOPY --from=$X /a /b\n", {}, "through a variable"),
        ("FROM 0dbc0f644041\n", {}, "by its id"),
        ("FROM {base}\nADD http://169.254.169.254/latest/meta-data/ /m\n", {}, "not on a public address"),
        ("FROM {base}\nADD http://127.0.0.1:7002/lifecycle/ /m\n", {}, "not on a public address"),
    ],
)
def test_a_job_dockerfile_may_not_use_platform_images_or_internal_urls(
    tmp_path: Path, victim_image: str, dockerfile: str, build_env: dict, refused: str
) -> None:
    text = dockerfile.format(victim=victim_image, base=BASE_IMAGE)
    folder = _docker_proxy_with(tmp_path, text)
    source = jobtypes.unpack_build_context(tmp_path / "ws", folder_upload(folder))
    env = {k: v.format(victim=victim_image) for k, v in build_env.items()}
    manifest = {**load_manifest(SAMPLES / "docker-proxy"), "build_env": env}
    with pytest.raises(InvalidInput, match=re.escape(refused)):
        jobtypes.plan_build(
            manifest, source, build_id="b", settings=Settings(data_dir=tmp_path / "d").build_settings()
        )


def test_stages_public_images_and_allow_list(tmp_path: Path) -> None:
    text = (
        "ARG GO=1.22\nFROM golang:${GO} AS build\nFROM build AS test\n"
        f"FROM {BASE_IMAGE}\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n"
        "RUN --mount=type=cache,target=/root/.cache/pip --mount=type=bind,from=test,target=/t true\n"
    )
    folder = _docker_proxy_with(tmp_path, text)
    source = jobtypes.unpack_build_context(tmp_path / "ws", folder_upload(folder))
    manifest = load_manifest(SAMPLES / "docker-proxy")
    plan = jobtypes.plan_build(
        manifest, source, build_id="b", settings=Settings(data_dir=tmp_path / "d").build_settings()
    )
    assert plan.images[1].build_args["BUILDKIT_CACHE_MOUNT_NS"] == f"racetrack/{manifest['name']}"
    strict = Settings(data_dir=tmp_path / "d", job_dockerfile_allowed_images=["racetrack/base-*"])
    with pytest.raises(InvalidInput, match="'golang:1.22', which the setting job_dockerfile_allowed_images"):
        jobtypes.plan_build(manifest, source, build_id="b", settings=strict.build_settings())


# Build caches ---------------------------------------------------------------------------------------

_POISON = """FROM {base}
ARG NONCE
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,id=go-mod,target=/m \\
    --mount=type=cache,id=racetrack/{victim}/go-mod,target=/n \\
    echo "$NONCE" && for d in /root/go/pkg/mod /m /n; do echo poisoned > $d/mark; done
CMD ["true"]
"""
_READ = """FROM {base}
ARG NONCE
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,id=go-mod,target=/m \\
    echo "$NONCE" && cat /root/go/pkg/mod/mark /m/mark > /seen 2>/dev/null; touch /seen
CMD ["true"]
"""


def _build_user_module(tmp_path: Path, family: str, dockerfile: str, settings: Settings) -> str:
    folder = _docker_proxy_with(tmp_path, dockerfile)
    source = jobtypes.unpack_build_context(tmp_path / f"ws-{family}", folder_upload(folder))
    manifest = {**load_manifest(SAMPLES / "docker-proxy"), "name": family}
    plan = jobtypes.plan_build(
        manifest, source, build_id=uuid.uuid4().hex[:6], settings=settings.build_settings()
    )
    try:
        image = plan.images[1]
        image.build_args["NONCE"] = uuid.uuid4().hex  # the cache-mount step always runs
        build_image(image, log=lambda line: None, settings=settings.build_settings())
        return image.image
    finally:
        plan.cleanup()


def test_a_family_cannot_poison_another_familys_build_cache(tmp_path: Path, families: list[str]) -> None:
    settings = job_settings(tmp_path / "data")
    attacker, victim = f"evil-{uuid.uuid4().hex[:6]}", f"victim-{uuid.uuid4().hex[:6]}"
    families.extend([attacker, victim])
    _build_user_module(tmp_path, attacker, _POISON.format(base=BASE_IMAGE, victim=victim), settings)
    image = _build_user_module(tmp_path, victim, _READ.format(base=BASE_IMAGE), settings)
    seen = _cat(image, "/seen")
    assert "poisoned" not in seen, "another family's build wrote into this family's build cache"
    # The attacker's own family does see its cache: the mounts work, they are only scoped.
    own = _build_user_module(tmp_path, attacker, _READ.format(base=BASE_IMAGE), settings)
    assert "poisoned" in _cat(own, "/seen")
