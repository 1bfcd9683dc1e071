"""Upstream's route forms that were missing, used as a Racetrack user or admin would: plain-text logs,
manifest edits, the dependency graph and portfolio, audit event forms, endpoint checks, token regeneration
in bulk, and plugin configuration, docs, actions, targets and tree (with a plugin zip built here, run by the
lifecycle)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from api.auth import Scope, grant, subject_for_esc, subject_for_family
from api.db import Esc, utcnow
from api.db.repository import create_deployment, get_family, record_audit
from tests.api.conftest import Api, World

PLUGIN_PY = """
import yaml


class Plugin:
    def markdown_docs(self):
        return "# Greeter\\nSays hello to whoever asks."

    def run_action(self, **params):
        config = yaml.safe_load(self.config_path.read_text()) if self.config_path.exists() else {}
        if params.get("fail"):
            raise RuntimeError("the greeter is out of words")
        return {"greeting": f"{config['greeting']}, {params.get('name', 'nobody')}"}

    def infrastructure_targets(self):
        return {"remote-docker": object()}

    def job_types(self):
        return {"greeter:1.0.0": {"images": [{"source": "jobtype", "dockerfile_path": "g.Dockerfile"}]}}
"""


def _plugin_zip(*, with_code: bool = True, version: str = "1.0.0") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", f"name: greeter\nversion: {version}\ncategory: core\n")
        archive.writestr("config.yaml", "greeting: hello\n")
        archive.writestr("g.Dockerfile", "FROM scratch\n")
        if with_code:
            archive.writestr("plugin.py", PLUGIN_PY)
    return buffer.getvalue()


def _install(api: Api, token: str, content: bytes) -> None:
    response = api.post("/plugin/upload/greeter.zip", token, content=content)
    assert response.status_code == 201, response.text


def test_staff_configure_a_plugin_and_run_its_action(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    user = world.user("user@example.com")
    _install(api, staff, _plugin_zip())

    assert api.get("/plugin/greeter/1.0.0/config", staff).json() == "greeting: hello\n"
    assert api.post("/plugin/greeter/run", staff, json={"name": "Ada"}).json() == {"greeting": "hello, Ada"}

    changed = api.put("/plugin/greeter/1.0.0/config", staff, json={"config_data": "greeting: welcome\n"})
    assert changed.status_code == 200, changed.text
    assert api.get("/plugin/greeter/1.0.0/config", staff).json() == "greeting: welcome\n"
    assert api.post("/plugin/greeter/run?name=Grace", staff).json() == {"greeting": "welcome, Grace"}

    docs = api.get("/plugin/greeter/docs", user)
    assert docs.status_code == 200 and docs.json().startswith("# Greeter")
    assert api.post("/plugin/greeter/run", user, json={}).status_code == 403


def test_plugin_failures_are_named_not_500(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    _install(api, staff, _plugin_zip())
    failed = api.post("/plugin/greeter/run", staff, json={"fail": True})
    assert failed.status_code == 400
    assert failed.json()["error"] == (
        "plugin greeter 1.0.0: run_action failed: RuntimeError: the greeter is out of words"
    )
    bad = api.put("/plugin/greeter/1.0.0/config", staff, json={"config_data": "greeting: [unclosed"})
    assert bad.status_code == 400 and "field `config_data`: not valid YAML" in bad.json()["error"]
    assert api.get("/plugin/nobody/docs", staff).status_code == 404

    # A newer upload without plugin.py is refused, and the plugin that works stays in use.
    broken = api.post(
        "/plugin/upload/greeter.zip", staff, content=_plugin_zip(with_code=False, version="2.0.0")
    )
    assert broken.status_code == 400 and "plugin.py is missing" in broken.json()["error"]
    assert api.get("/plugin/greeter/docs", staff).status_code == 200
    tree = api.get("/plugin/tree", staff).json()
    assert [p["version"] for p in tree["plugins"]] == ["1.0.0"]


def test_targets_and_tree_show_origins_and_use(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    user = world.user("user@example.com")
    _install(api, staff, _plugin_zip())
    world.job("hello", "1.0.0", job_type_version="greeter:1.0.0", infrastructure_target="remote-docker")
    world.job("adder", "1.0.0", job_type_version="python3:1.0.0", infrastructure_target="docker")

    targets = api.get("/plugin/infrastructure_targets", user).json()
    assert targets["docker"]["origin"] == "built-in"
    assert targets["remote-docker"]["origin"] == "plugin greeter 1.0.0"

    tree = api.get("/plugin/tree", user).json()
    job_types = {t["ref"]: (t["origin"], t["jobs"]) for t in tree["job_types"]}
    assert job_types["greeter:1.0.0"] == ("plugin greeter 1.0.0", 1)
    assert job_types["python3:1.0.0"] == ("built-in", 1)
    used = {t["name"]: t["jobs"] for t in tree["infrastructure_targets"]}
    assert used["remote-docker"] == 1 and used["docker"] == 1 and used["kubernetes"] == 0

    assert api.delete("/plugin/all", staff).json()["message"] == "1 plugin(s) uninstalled"
    assert api.get("/plugin", staff).json() == []
    assert "remote-docker" not in api.get("/plugin/infrastructure_targets", user).json()


def test_plain_logs_are_text_without_colours(api: Api, world: World) -> None:
    owner = world.user("owner@example.com")
    world.job("adder", "1.0.0", owner="owner@example.com")
    with world.session() as session:
        create_deployment(
            session,
            kind="deploy",
            status="done",
            job_name="adder",
            job_version="1.0.0",
            build_logs="\x1b[32mStep 1/2\x1b[0m FROM python\nStep 2/2 COPY . /src\n",
        )
    plain = api.get("/job/adder/1.0.0/build-logs/plain?tail=1", owner)
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "Step 2/2 COPY . /src"
    assert api.get("/job/adder/1.0.0/build-logs/plain", owner).text.startswith("Step 1/2 FROM python\n")
    runtime = api.get("/job/adder/1.0.0/logs/plain", owner)
    assert runtime.headers["content-type"].startswith("text/plain")
    assert "no deploy engine is configured" in runtime.text  # this lifecycle runs without one


def test_the_owner_edits_a_manifest_keeping_name_and_version(api: Api, world: World) -> None:
    owner = world.user("owner@example.com")
    other = world.user("other@example.com")
    world.job("adder", "1.0.0", owner="owner@example.com")
    edited = (
        "name: adder\nowner_email: owner@example.com\ngit:\n  remote: https://example.com/adder\n"
        "jobtype: python3:latest\nversion: 1.0.0\nreplicas: 2\n"
    )
    answer = api.put("/job/adder/1.0.0/manifest", owner, json={"manifest_yaml": edited})
    assert answer.status_code == 200, answer.text
    assert api.get("/job/adder/1.0.0", owner).json()["manifest_yaml"] == edited
    assert api.put("/job/adder/1.0.0/manifest", other, json={"manifest_yaml": edited}).status_code == 403

    renamed = api.put(
        "/job/adder/1.0.0/manifest", owner, json={"manifest_yaml": edited.replace("1.0.0", "2.0.0")}
    )
    assert renamed.status_code == 400
    assert "a manifest edit keeps the name and version" in renamed.json()["error"]
    broken = api.put("/job/adder/1.0.0/manifest", owner, json={"manifest_yaml": "name: [adder"})
    assert broken.status_code == 400 and "not valid YAML" in broken.json()["error"]
    unknown = api.put("/job/adder/1.0.0/manifest", owner, json={"manifest_yaml": edited + "colour: red\n"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["error"]


def test_graph_shows_who_may_call_whom(api: Api, world: World) -> None:
    admin = world.admin_token()
    world.job("adder", "1.0.0")
    world.job("summer", "1.0.0")
    esc_id, _ = world.esc("billing")
    with world.session() as session:
        adder, summer = get_family(session, "adder"), get_family(session, "summer")
        grant(session, subject_for_family(session, summer), Scope.call_job, family=adder)
        grant(session, subject_for_esc(session, session.get(Esc, esc_id)), Scope.call_job, family=summer)
    graph = api.get("/job/graph", admin).json()
    assert {(n["id"], n["type"]) for n in graph["nodes"]} == {
        ("job:adder", "job"),
        ("job:summer", "job"),
        (f"esc:{esc_id}", "esc"),
    }
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("job:summer", "job:adder"),
        (f"esc:{esc_id}", "job:summer"),
    }
    _, outsider = world.esc("outsider")  # may read no job, so sees no part of the graph
    assert api.get("/job/graph", outsider).json() == {"nodes": [], "edges": []}


def test_portfolio_puts_purge_candidates_first(api: Api, world: World) -> None:
    owner = world.user("owner@example.com")
    long_ago = utcnow() - timedelta(days=90)
    world.job("adder", "1.0.0", owner="owner@example.com", last_call_time=long_ago)
    world.job("adder", "1.1.0", last_call_time=utcnow())
    portfolio = api.get("/job/portfolio", owner).json()
    assert [(j["version"], j["is_latest"]) for j in portfolio] == [("1.0.0", False), ("1.1.0", True)]
    old, new = portfolio
    assert old["purge_reasons"] == ["a newer version exists (1.1.0)", "not called for 90 days"]
    assert old["last_call_time_days_ago"] == 90.0 and old["purge_score"] > new["purge_score"] == 0


def test_audit_event_forms(api: Api, world: World) -> None:
    owner = world.user("owner@example.com")
    world.user("other@example.com")
    world.job("adder", "1.0.0", owner="owner@example.com")
    world.job("summer", "1.0.0")
    _, outsider = world.esc("outsider")  # reads no job
    with world.session() as session:
        record_audit(session, "deploy", executor="owner@example.com", job_name="adder", job_version="1.0.0")
        record_audit(session, "deploy", executor="other@example.com", job_name="adder", job_version="2.0.0")
        record_audit(session, "deploy", executor="other@example.com", job_name="summer", job_version="1.0.0")

    def seen(path: str, token: str = owner) -> list[tuple[str | None, str | None]]:
        answer = api.get(path, token)
        assert answer.status_code == 200, answer.text
        return [(e["username_executor"], e["job_version"]) for e in answer.json()]

    mine, others, summer = (
        ("owner@example.com", "1.0.0"),
        ("other@example.com", "2.0.0"),
        ("other@example.com", "1.0.0"),
    )
    assert seen("/audit/events") == [summer, others, mine]
    assert seen("/audit/events/job/adder") == [others, mine]
    assert seen("/audit/events/job/adder/2.0.0") == [others]
    assert seen("/audit/events", outsider) == []
    assert seen("/audit/user_events") == [mine]
    assert seen("/audit/user_events/job/adder") == [mine]
    assert seen("/audit/user_events/job/adder/2.0.0") == []


def test_allowed_job_endpoint_honours_endpoint_grants(api: Api, world: World) -> None:
    world.job("adder", "1.0.0")
    esc_id, caller = world.esc("billing")  # an ESC holds only what it was granted
    with world.session() as session:
        esc = subject_for_esc(session, session.get(Esc, esc_id))
        grant(session, esc, Scope.call_job, family=get_family(session, "adder"), endpoint="/api/v1/perform")
    base = "/auth/allowed/job_endpoint/adder/1.0.0/scope/call_job/endpoint"
    assert api.get(f"{base}/api/v1/perform", caller).json() == {"allowed": True}
    assert api.get(f"{base}/api/v1/perform/deeper", caller).json() == {"allowed": True}
    assert api.get(f"{base}/api/v1/other", caller).json() == {"allowed": False}
    assert api.get(f"{base}/api/v1/perform", None).status_code == 401
    assert api.get(f"{base.replace('adder', 'ghost')}/api/v1/perform", caller).status_code == 404


def test_token_regeneration_in_bulk(api: Api, world: World) -> None:
    admin = world.admin_token()
    staff = world.user("staff@example.com", staff=True)
    user = world.user("user@example.com")
    esc_id, esc_token = world.esc("billing")
    family_token = world.family_token("adder")

    shown = api.get(f"/auth/token/esc/{esc_id}", staff).json()["token"]
    assert shown == esc_token
    assert api.get("/auth/token/esc/nope", staff).status_code == 404

    assert api.post("/auth/token/esc/regenerate", staff).json()["count"] == 1
    assert api.get("/users/validate_user_auth", esc_token).status_code == 401
    new_esc = api.get(f"/auth/token/esc/{esc_id}", staff).json()["token"]
    assert api.get("/users/validate_user_auth", new_esc).status_code == 200

    assert api.post("/auth/token/job_family/regenerate", staff).json()["count"] == 1
    assert api.get("/users/validate_user_auth", family_token).status_code == 401

    refused = api.post("/auth/token/user/all/regenerate", staff)
    assert refused.status_code == 403 and "not a superuser" in refused.json()["error"]
    done = api.post("/auth/token/user/all/regenerate", admin)
    assert done.json() == {"message": "2 user token(s) regenerated", "count": 2}
    assert api.get("/users/validate_user_auth", user).status_code == 401
    assert api.get("/users/validate_user_auth", staff).status_code == 401
    assert api.get("/users/validate_user_auth", admin).status_code == 200  # the admin who did it stays in


def test_a_revision_shows_its_desired_state_without_secret_values(api: Api, world: World) -> None:
    from api.db.repository import add_revision, ensure_family
    from api.deployer.sealing import Sealer

    owner = world.user("owner@example.com")
    world.job("adder", "1.0.0", owner="owner@example.com")
    sealer = Sealer(world.settings.data_dir)

    def state(password: str) -> dict:
        run = {"env": {"GREETING": "hello"}, "secret_env": sealer.seal({"PASSWORD": password})}
        return {"family": "adder", "versions": [{"version": "1.0.0", "run": run, "images": []}]}

    with world.session() as session:
        family = ensure_family(session, "adder")
        for password in ("first-secret", "first-secret", "second-secret"):
            add_revision(
                session,
                family,
                target="docker",
                desired_state=state(password),
                operation="deploy",
                created_by="x",
            )
    shown = [api.get(f"/job_family/adder/revisions/{n}", owner).json() for n in (1, 2, 3)]
    secrets = [s["desired_state"]["versions"][0]["run"]["secret_env"]["PASSWORD"] for s in shown]
    assert all(s.startswith("(secret ") and "first-secret" not in s and "second" not in s for s in secrets)
    assert secrets[0] == secrets[1] != secrets[2], "a changed secret shows as changed"
    assert shown[0]["desired_state"]["versions"][0]["run"]["env"] == {"GREETING": "hello"}
    missing = api.get("/job_family/adder/revisions/9", owner)
    assert missing.status_code == 404 and "revision 9 of job family adder" in missing.json()["error"]
