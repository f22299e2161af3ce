"""What can be checked of deploy/ without systemd as PID 1, a Docker engine or a Kubernetes
cluster: the systemd unit passes systemd-analyze and keeps its hardening; the container image's
runtime stage installs the package of every library the built binary needs and its build stage
every build package install-deps.sh names; compose and Kubernetes files parse, run valid roles,
probe the paths Repoint serves and hand it a configuration `repoint check-config` accepts; and
redis-server started with deploy/redis.conf has the durability settings Repoint relies on."""
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

DEPLOY = os.path.join(harness.SOURCE_DIR, "deploy")
ROLES = {"api", "workers", "api,workers"}


def read(*parts):
    with open(os.path.join(DEPLOY, *parts)) as f:
        return f.read()


def test_systemd_unit_verifies_and_is_hardened():
    unit = read("systemd", "repoint.service")
    # The unit names installed paths; verify a copy pointing at this build.
    local = (unit.replace("/usr/local/bin/repoint", harness.REPOINT_BIN)
                 .replace("/etc/repoint/repoint.env", os.path.join(DEPLOY, "systemd", "repoint.env")))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "repoint.service")
        with open(path, "w") as f:
            f.write(local)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("KillSignal", "SIGTERM"),
                      ("CapabilityBoundingSet", ""), ("User", "repoint")]:
        assert settings.get(key) == [want], (key, settings.get(key))
    roles = re.search(r"^REPOINT_ROLES=(\S+)$", read("systemd", "repoint.env"), re.M).group(1)
    assert roles in ROLES, roles


def apt_packages(stage_text):
    """Package names of the apt-get install lines in one Dockerfile stage."""
    words = re.findall(r"apt-get install ([^&]*)", stage_text.replace("\\\n", " "))
    return {w for chunk in words for w in chunk.split() if not w.startswith("-")}


def library_paths():
    """{soname: path} of what the built binary loads, as the dynamic linker resolves it."""
    out = subprocess.run(["ldd", harness.REPOINT_BIN], capture_output=True, text=True,
                         check=True).stdout
    return dict(re.findall(r"^\s*(\S+) => (/\S+)", out, re.M))


def package_of_library(path):
    """The Debian package shipping path (under /usr or not: the merged-/usr layout)."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):
        candidates.add(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0]
    raise AssertionError(f"no Debian package ships {path}")


def test_container_image_has_what_the_binary_needs():
    dockerfile = read("container", "Dockerfile")
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2 and all(s.startswith("debian:12") for s in stages), "two Debian 12 stages"
    build, runtime = apt_packages(stages[0]), apt_packages(stages[1])
    install_deps = read("install-deps.sh")
    build_pkgs = set(re.search(r'BUILD_PKGS="([^"]*)"', install_deps).group(1).split())
    assert build_pkgs - {"redis-server"} <= build, build_pkgs - build
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", harness.REPOINT_BIN], capture_output=True,
                                       text=True, check=True).stdout)
    assert needed, "readelf found no NEEDED entries"
    paths = library_paths()
    packages = {lib: package_of_library(paths[lib]) for lib in needed}
    missing = {lib: pkg for lib, pkg in packages.items() if pkg not in runtime | {"libc6"}}
    assert not missing, f"runtime stage lacks {missing}"
    assert "ca-certificates" in runtime, "providers are reached over TLS"
    assert re.search(r"^USER 10001", stages[1], re.M), "the image runs as a non-root user"
    for src in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert os.path.exists(os.path.join(harness.SOURCE_DIR, src)), f"COPY {src} does not exist"


def check_config_accepts(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([harness.REPOINT_BIN, "check-config", "--config", f.name],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
        assert r.returncode == 0, r.stderr


def test_compose_runs_valid_roles():
    compose = yaml.safe_load(read("compose.yaml"))
    services = compose["services"]
    assert {"redis", "api", "workers"} <= set(services)
    for name in ("api", "workers"):
        args = services[name]["command"]
        assert args[0] == "serve" and args[args.index("--roles") + 1] == name, args
        assert services[name]["read_only"] is True
    for volume in services["redis"]["volumes"]:
        src = volume.split(":")[0]
        if src.startswith("./"):
            assert os.path.exists(os.path.join(DEPLOY, src)), src


def test_kubernetes_manifests_fit_together():
    docs = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))):
        with open(path) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
        by_kind.setdefault(d["kind"], []).append(d)
    config = by_kind["ConfigMap"][0]["data"]["repoint.conf"]
    check_config_accepts(config)
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    assert set(deployments) == {"repoint-api", "repoint-workers"}
    served = {"/repoint/health", "/repoint/ready"}
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        c = spec["containers"][0]
        assert c["args"][c["args"].index("--roles") + 1] == name.split("-")[1]
        for probe in ("readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"]["path"] in served
            # The pods serve HTTPS (listen.tls_cert in the ConfigMap): so must the probes.
            assert c[probe]["httpGet"]["scheme"] == "HTTPS"
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        for key in ("listen.tls_cert", "auth.credentials_file", "secrets.key_file"):
            path = re.search(rf"^{re.escape(key)} (\S+)$", config, re.M).group(1)
            assert os.path.dirname(path) in mounts, (key, path, mounts)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert "requests" in c["resources"]
        port = c["ports"][0]["containerPort"]
        assert f"listen 0.0.0.0:{port}" in config.splitlines()
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    api_labels = deployments["repoint-api"]["spec"]["template"]["metadata"]["labels"]
    assert by_kind["Service"][0]["spec"]["selector"].items() <= api_labels.items()
    covered = set()
    for pdb in by_kind["PodDisruptionBudget"]:
        sel = pdb["spec"]["selector"]["matchLabels"]
        covered |= {n for n, d in deployments.items()
                    if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()}
    assert covered == set(deployments), covered


def test_redis_conf_is_durable_and_never_evicts():
    port = harness.free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(["redis-server", os.path.join(DEPLOY, "redis.conf"), "--port",
                                 str(port), "--dir", d, "--daemonize", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def cli(*args):
                return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                                      text=True).stdout.split()
            harness.wait_until(lambda: cli("ping") == ["PONG"], what="redis with deploy/redis.conf")
            assert cli("config", "get", "appendonly") == ["appendonly", "yes"]
            assert cli("config", "get", "appendfsync") == ["appendfsync", "everysec"]
            assert cli("config", "get", "maxmemory-policy") == ["maxmemory-policy", "noeviction"]
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    harness.run_tests([
        test_systemd_unit_verifies_and_is_hardened,
        test_container_image_has_what_the_binary_needs,
        test_compose_runs_valid_roles,
        test_kubernetes_manifests_fit_together,
        test_redis_conf_is_durable_and_never_evicts,
    ])
