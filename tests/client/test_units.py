"""Unit tests of the pieces under the commands: .gitignore rules, manifest merging, .env files, plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.build_context import IgnoreRules, list_context_files
from client.errors import InvalidInput
from client.manifest import apply_extra_vars, merge_dicts, read_env_file, validate_manifest
from client.plan import mask_secrets, plan_has_changes


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("*.pyc", "a.pyc", False, True),
        ("*.pyc", "deep/er/a.pyc", False, True),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("build/", "build", False, False),
        ("build/", "src/build", True, True),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, False),
        ("**/cache", "a/b/cache", True, True),
        ("**/cache", "cache", True, True),
        ("logs/**", "logs/x/y.txt", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("a/**/b", "a/b", False, True),
        ("file?.txt", "file1.txt", False, True),
        ("file[0-9].txt", "filex.txt", False, False),
        ("\\#notcomment", "#notcomment", False, True),
        ("# comment", "# comment", False, False),
    ],
)
def test_gitignore_patterns(pattern: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert IgnoreRules([pattern]).ignored(path, is_dir) is ignored


def test_negation_last_rule_wins() -> None:
    rules = IgnoreRules(["*.log", "!keep.log", "secret/"])
    assert rules.ignored("a.log", False) and not rules.ignored("keep.log", False)
    assert rules.ignored("secret", True)


def test_listing_skips_ignored_dirs_and_git(tmp_path: Path) -> None:
    for rel in ("a.py", "node_modules/x.js", ".git/config", "sub/.env", "sub/b.py", ".gitignore"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".gitignore").write_text("node_modules/\n.env\n")
    assert list_context_files(tmp_path) == [".gitignore", "a.py", "sub/b.py"]


def test_merge_dicts_deep_without_mutating_base() -> None:
    base = {"a": {"x": 1, "y": 2}, "b": [1], "c": 3}
    merged = merge_dicts(base, {"a": {"y": 9}, "b": [2]})
    assert merged == {"a": {"x": 1, "y": 9}, "b": [2], "c": 3}
    assert base["a"] == {"x": 1, "y": 2}


def test_extra_vars_create_missing_mappings_and_parse_yaml() -> None:
    data = apply_extra_vars(
        {"git": {"remote": "r"}},
        {
            "resources.memory_max": "2Gi",
            "replicas": "3",
            "public_endpoints": "[/api/v1/perform]",
            "labels.x": "",
        },
    )
    assert data["resources"] == {"memory_max": "2Gi"} and data["replicas"] == 3
    assert data["public_endpoints"] == ["/api/v1/perform"] and data["labels"] == {"x": ""}
    with pytest.raises(InvalidInput):
        apply_extra_vars({"name": "x"}, {"name.sub": "1"})


def test_env_file(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("# c\n\nA=1\nexport B = 'two words'\nC=\"x=y\"\nD=\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x=y", "D": ""}


def test_valid_manifest_has_no_problems() -> None:
    manifest = {
        "name": "adder",
        "owner_email": "a@b.c",
        "jobtype": "python3:latest",
        "version": "1.2.3-rc.1",
        "git": {"remote": "https://github.com/x/y", "branch": "main", "directory": "adder"},
        "replicas": 2,
        "resources": {"memory_max": "1Gi"},
        "runtime_env": {"A": "1"},
    }
    assert validate_manifest(manifest) == []


def test_deprecated_lang_is_accepted_with_a_warning(capsys) -> None:
    problems = validate_manifest(
        {"name": "a", "owner_email": "a@b.c", "lang": "python3:latest", "git": {"remote": "https://x/y"}}
    )
    assert problems == []
    assert "'lang' is deprecated" in capsys.readouterr().err


def test_mask_secrets_everywhere() -> None:
    plan = {"steps": [{"changes": {"env": {"old": ["A=s3cr3t"], "new": {"k": "s3cr3t!"}}}}]}
    masked = mask_secrets(plan, {"s3cr3t"})
    assert "s3cr3t" not in str(masked)
    assert mask_secrets(plan, set()) is plan


def test_plan_has_changes() -> None:
    assert not plan_has_changes({"steps": [{"op": "same"}], "summary": {"same": 1}})
    assert plan_has_changes({"steps": [{"op": "create"}]})
    assert plan_has_changes({"summary": {"delete": 1}})


def test_plan_shows_mapping_changes_key_by_key() -> None:
    from client.plan import render_plan

    plan = {
        "steps": [
            {
                "op": "update",
                "type": "t",
                "name": "n",
                "diffs": ["env", "image"],
                "changes": {
                    "env": {"old": {"A": "1", "B": "2", "T": "x"}, "new": {"A": "1", "B": "3", "C": "4"}},
                    "image": {"old": "a:1", "new": "a:2"},
                    "ports": {"new": [7000]},
                },
            }
        ]
    }
    text = "\n".join(render_plan(plan))
    assert '~ env.B: "2" -> "3"' in text and '+ env.C: "4"' in text and '- env.T: "x"' in text
    assert "env.A" not in text
    assert '~ image: "a:1" -> "a:2"' in text and "+ ports: [7000]" in text
