"""Manifests: the upstream field set, errors naming field and accepted values, overlays, deprecated names."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.errors import InvalidInput
from jobtypes.manifest import load_manifest_file, parse_manifest, resolve_version

VALID = {
    "name": "adder",
    "owner_email": "alice@example.com",
    "git": {"remote": "https://github.com/x/adder"},
    "jobtype": "python3:latest",
}


def _error(data: dict) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_manifest(data)
    return caught.value.message


def test_full_upstream_field_set_is_accepted() -> None:
    parsed = parse_manifest(
        {
            **VALID,
            "version": "1.2.3-rc.1+build5",
            "git": {"remote": "https://h/r", "branch": "dev", "directory": "sub"},
            "jobtype_extra": {"entrypoint_path": "adder.py"},
            "image_type": "docker",
            "system_dependencies": ["curl"],
            "build_env": {"A": "1"},
            "runtime_env": {"B": "2"},
            "secret_build_env_file": ".env.build",
            "secret_runtime_env_file": ".env.run",
            "labels": {"team": "x"},
            "public_endpoints": ["/api/v1/perform"],
            "replicas": 3,
            "resources": {"memory_min": "256Mi", "memory_max": "1Gi", "cpu_min": "10m", "cpu_max": 1},
            "infrastructure_target": "docker",
            "extends": None,
        }
    )
    assert parsed.warnings == []
    assert parsed.manifest.replicas == 3 and parsed.manifest.resources is not None
    assert parsed.manifest.resources.cpu_max == "1"
    assert parsed.manifest.jobtype_name == "python3" and parsed.manifest.jobtype_version == "latest"


def test_unknown_field_suggests_the_closest_name() -> None:
    message = _error({**VALID, "jobtyp": "python3:latest"})
    assert "field `jobtyp`: unknown field; did you mean `jobtype`?" in message
    message = _error({**VALID, "git": {"remote": "https://h/r", "brnch": "x"}})
    assert "did you mean `git.branch`?" in message
    assert "did you mean" not in _error({**VALID, "zzzzzz": 1})


@pytest.mark.parametrize(
    ("patch", "field", "accepted"),
    [
        ({"name": "Adder_1"}, "name", "lowercase letters, digits and hyphens"),
        ({"owner_email": "nobody"}, "owner_email", "an e-mail address"),
        ({"version": "1.0"}, "version", "semantic version"),
        ({"git": {"remote": "git@github.com:x/y.git"}}, "git.remote", "http(s)://"),
        ({"git": {"remote": "https://h/r", "directory": "../up"}}, "git.directory", "relative path"),
        ({"jobtype": "python3"}, "jobtype", "NAME:VERSION"),
        ({"replicas": 51}, "replicas", "from 1 to 50"),
        ({"image_type": "packer"}, "image_type", "`docker`"),
        ({"resources": {"memory_max": "lots"}}, "resources.memory_max", "Kubernetes quantity"),
        ({"public_endpoints": ["api/v1/x"]}, "public_endpoints", "starting with /"),
        ({"runtime_env": {"A": 1}}, "runtime_env.A", "string values"),
    ],
)
def test_each_error_names_field_problem_and_accepted_values(patch: dict, field: str, accepted: str) -> None:
    message = _error({**VALID, **patch})
    assert f"field `{field}`" in message
    assert accepted in message


def test_missing_required_fields_are_listed() -> None:
    message = _error({"name": "adder"})
    for field in ("owner_email", "git", "jobtype"):
        assert f"field `{field}`: required field is missing" in message


def test_deprecated_names_map_to_jobtype_and_jobtype_extra_with_warnings() -> None:
    data = {k: v for k, v in VALID.items() if k != "jobtype"}
    parsed = parse_manifest({**data, "lang": "python3:2.15.1", "python": {"entrypoint_path": "a.py"}})
    assert parsed.manifest.jobtype == "python3:2.15.1"
    assert parsed.manifest.jobtype_extra == {"entrypoint_path": "a.py"}
    assert any("`lang` is deprecated" in w for w in parsed.warnings)
    assert any("`python` is deprecated" in w for w in parsed.warnings)
    for old in ("golang", "docker", "wrapper_properties"):
        assert parse_manifest({**VALID, old: {"k": "v"}}).manifest.jobtype_extra == {"k": "v"}
    assert "keep only `jobtype`" in _error({**VALID, "lang": "python3:latest"})
    assert "keep only `jobtype_extra`" in _error({**VALID, "golang": {}, "jobtype_extra": {"a": 1}})


def test_extends_must_be_resolved_before_sending() -> None:
    assert "field `extends`" in _error({**VALID, "extends": "base.yaml"})


def test_overlay_is_deep_merged_onto_its_base(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: adder\nowner_email: a@example.com\njobtype: python3:latest\n"
        "git: {remote: 'https://h/r', branch: main}\nruntime_env: {A: '1', B: '2'}\n"
    )
    (tmp_path / "job.yaml").write_text(
        "extends: base.yaml\nversion: 2.0.0\ngit: {branch: dev}\nruntime_env: {B: '3'}\n"
    )
    parsed = load_manifest_file(tmp_path, {"replicas": "2", "git.directory": "sub"})
    manifest = parsed.manifest
    assert manifest.version == "2.0.0" and manifest.replicas == 2
    assert (
        manifest.git.remote == "https://h/r"
        and manifest.git.branch == "dev"
        and manifest.git.directory == "sub"
    )
    assert manifest.runtime_env == {"A": "1", "B": "3"}
    assert manifest.extends is None


def test_a_base_may_not_extend(tmp_path: Path) -> None:
    (tmp_path / "root.yaml").write_text("name: x\n")
    (tmp_path / "base.yaml").write_text("extends: root.yaml\n")
    (tmp_path / "job.yaml").write_text("extends: base.yaml\n")
    with pytest.raises(InvalidInput, match="a base may not extend"):
        load_manifest_file(tmp_path / "job.yaml")


def test_version_resolution() -> None:
    jobs = [
        ("1.0.0", "running"),
        ("1.2.0", "error"),
        ("1.10.0", "lost"),
        ("2.0.0-rc.1", "running"),
        ("2.1.0", "starting"),
        ("3.0.0", "orphaned"),
    ]
    assert resolve_version("latest", jobs) == "1.10.0"  # not the pre-release, not starting or orphaned
    assert resolve_version("1.x", jobs) == "1.10.0"
    assert resolve_version("1.2.x", jobs) == "1.2.0"
    assert resolve_version("1.*", jobs) == "1.10.0"
    assert resolve_version("2.x", jobs) is None
    assert resolve_version("2.1.0", jobs) == "2.1.0"  # an exact version matches whatever its status
    assert resolve_version("9.9.9", jobs) is None
    assert resolve_version("latest", []) is None
