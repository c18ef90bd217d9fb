#!/usr/bin/env python3
"""Renders each Kubernetes overlay with `kubectl kustomize` and checks the invariants of
deploy/k8s on the parsed YAML; the embedded job file must load with dpo-train.

    k8s_manifests_test.py SOURCE_DIR DPO_TRAIN
Exit 0 on success, 1 on a failed check, 77 (CTest: skipped) when kubectl is not installed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

SOURCE, DPO_TRAIN = sys.argv[1], sys.argv[2]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def render(overlay):
    text = subprocess.run(["kubectl", "kustomize", os.path.join(SOURCE, "deploy/k8s/overlays", overlay)],
                          check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    check(len(found) == 1, f"expected one {kind}/{name}, found {len(found)}")
    return found[0] if found else {}


def pod_specs(docs):
    """(where, pod spec) of every workload."""
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield f"Deployment/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        if doc["kind"] == "MPIJob":
            for role, replica in doc["spec"]["mpiReplicaSpecs"].items():
                yield f"MPIJob {role}", replica["template"]["spec"]


def check_overlay(overlay):
    docs = render(overlay)
    where = f"[{overlay}]"
    for doc in docs:
        check(doc["metadata"].get("namespace") == "dpo", f"{where} {doc['kind']}/{doc['metadata']['name']} not in namespace dpo")

    job = one(docs, "MPIJob", "dpo-train")
    check(job.get("apiVersion") == "kubeflow.org/v2beta1", f"{where} MPIJob apiVersion {job.get('apiVersion')}")
    spec = job.get("spec", {})
    check(spec.get("slotsPerWorker", 0) >= 1, f"{where} MPIJob slotsPerWorker missing")
    check(spec.get("runPolicy", {}).get("cleanPodPolicy") in ("Running", "All"), f"{where} runPolicy.cleanPodPolicy")
    check(isinstance(spec.get("runPolicy", {}).get("backoffLimit"), int), f"{where} runPolicy.backoffLimit")
    launcher = spec["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
    check(launcher["command"] == ["dpo-launch"], f"{where} the launcher must run dpo-launch, runs {launcher['command']}")
    check("--hostfile=/etc/mpi/hostfile" in launcher["args"], f"{where} dpo-launch must use the operator's hostfile")
    worker_spec = spec["mpiReplicaSpecs"]["Worker"]["template"]["spec"]
    shm = [v for v in worker_spec["volumes"] if v["name"] == "shm"]
    check(shm and shm[0].get("emptyDir", {}).get("medium") == "Memory", f"{where} workers need a memory-backed /dev/shm")
    mounts = {m["mountPath"]: m["name"] for m in worker_spec["containers"][0]["volumeMounts"]}
    check(mounts.get("/dev/shm") == "shm", f"{where} /dev/shm not mounted")
    limits = worker_spec["containers"][0]["resources"].get("limits", {})
    if overlay == "gpu":
        check(limits.get("nvidia.com/gpu") == 1, f"{where} workers must request one GPU each")
        check("--set=training.device=cuda" in launcher["args"], f"{where} the gpu overlay must train on cuda")
    else:
        check("nvidia.com/gpu" not in limits, f"{where} a CPU overlay must not request GPUs")

    config = one(docs, "ConfigMap", "dpo-job")  # exact name: no hash suffix
    for _, pod in pod_specs([job]):
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                check(volume["configMap"]["name"] == "dpo-job", f"{where} MPIJob mounts ConfigMap {volume['configMap']['name']}")
    job_text = config.get("data", {}).get("job.yaml", "")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "job.yaml")
        with open(path, "w") as f:
            f.write(job_text)
        loaded = subprocess.run([DPO_TRAIN, "--config", path, "--print-config"], capture_output=True, text=True)
        check(loaded.returncode == 0, f"{where} the ConfigMap's job.yaml does not load: {loaded.stderr.strip()}")
        resolved = yaml.safe_load(loaded.stdout) if loaded.returncode == 0 else {}
    reference = resolved.get("reference", {})
    check(reference.get("mode") == "server" and reference.get("address", "").startswith("dpo-reference-server:"),
          f"{where} the job must use the reference Service, has {reference}")

    server = one(docs, "Deployment", "dpo-reference-server")
    container = server["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(f"--health-listen=0.0.0.0:{ports.get('health')}" in container["args"], f"{where} health port not served")
    for probe in ("readinessProbe", "livenessProbe"):
        check(container.get(probe, {}).get("grpc", {}).get("port") == ports.get("health"),
              f"{where} {probe} must be a gRPC probe on the plaintext health port")
    service = one(docs, "Service", "dpo-reference-server")
    check(service["spec"].get("type") == "ClusterIP", f"{where} reference Service must be ClusterIP")
    check([p["port"] for p in service["spec"]["ports"]] == [ports.get("grpc")], f"{where} Service must expose only gRPC")

    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    check("ReadWriteMany" in claims.get("dpo-checkpoints", {}).get("spec", {}).get("accessModes", []),
          f"{where} checkpoints need a ReadWriteMany volume (every rank reads them on resume)")
    check("dpo-reference-cache" in claims, f"{where} no PVC for the reference cache")

    policy = one(docs, "NetworkPolicy", "dpo-reference-server")
    grpc_rules = [r for r in policy["spec"]["ingress"] if any(p["port"] == 50051 for p in r.get("ports", []))]
    check(len(grpc_rules) == 1 and grpc_rules[0]["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dpo-train"}}}],
          f"{where} only trainer pods may reach the reference server's gRPC port")
    train_policy = one(docs, "NetworkPolicy", "dpo-train")
    metrics_rules = [r for r in train_policy["spec"]["ingress"] if any(p["port"] == 9400 for p in r.get("ports", []))]
    check(len(metrics_rules) == 1 and metrics_rules[0]["from"][0].get("namespaceSelector") is not None,
          f"{where} only the monitoring namespace may reach the metrics port")
    monitor = one(docs, "PodMonitor", "dpo-train")
    check(monitor.get("spec", {}).get("podMetricsEndpoints", [{}])[0].get("path") == "/metrics", f"{where} PodMonitor path")

    for name, pod in pod_specs(docs):
        security = pod.get("securityContext", {})
        check(security.get("runAsNonRoot") is True, f"{where} {name}: runAsNonRoot")
        check(security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where} {name}: seccomp RuntimeDefault")
        for container in pod["containers"]:
            context = container.get("securityContext", {})
            check(context.get("allowPrivilegeEscalation") is False, f"{where} {name}: allowPrivilegeEscalation must be false")
            check(context.get("capabilities", {}).get("drop") == ["ALL"], f"{where} {name}: capabilities must drop ALL")


if shutil.which("kubectl") is None:
    print("SKIPPED: kubectl is not installed (scripts/install-deps installs it when the Debian archive has it)")
    sys.exit(77)
for overlay in ("cpu-smoke", "gpu"):
    check_overlay(overlay)
for failure in failures:
    print("FAILED:", failure)
print(f"{len(failures)} failed checks" if failures else "all deploy/k8s checks passed for cpu-smoke and gpu")
sys.exit(1 if failures else 0)
