#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: a schema check against the Compose
# Specification (check-jsonschema's vendored compose-spec schema), then a check that every
# setting the app services receive, and every setting config.rs reads, is documented in
# .env.example.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="target/compose-venv"
if ! "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -q "0.39.0"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "check-jsonschema==0.39.0" "pyyaml>=6"
fi

"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

"$VENV/bin/python" - <<'PY'
import re, sys, yaml

compose = yaml.safe_load(open("docker-compose.yml"))
documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", open(".env.example").read(), re.M))
config_rs = open("shared/src/config.rs").read()
read_by_app = set(re.findall(r'\br\s*\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', config_rs))
problems = []
for name in sorted(read_by_app - documented):
    problems.append(f".env.example does not document {name} (read in shared/src/config.rs)")
services = compose.get("services", {})
for svc in ("ingress", "worker", "migrate"):
    if svc not in services:
        problems.append(f"service {svc} is missing")
        continue
    env = services[svc].get("environment") or {}
    keys = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
    for key in keys:
        if key not in documented:
            problems.append(f"service {svc}: {key} is not documented in .env.example")
        elif key not in read_by_app and key not in ("RUST_LOG",):
            problems.append(f"service {svc}: {key} is not a setting mnemo reads")
worker = services.get("worker", {})
for forbidden in ("container_name", "ports"):
    if forbidden in worker:
        problems.append(f"worker has {forbidden}: it could not be scaled with --scale worker=N")
for name, svc in services.items():
    for dep, cond in (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else []:
        c = cond.get("condition")
        if c == "service_healthy" and "healthcheck" not in services.get(dep, {}):
            problems.append(f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"compose: {len(services)} services valid; {len(read_by_app)} settings documented")
PY
