#!/usr/bin/env python3
"""Checks the Helm chart (helm/coinsence) without a cluster or a helm binary.

For every values file under helm/coinsence/ci/ (*-values.yaml):
  1. renders the chart with helm-python-sdk (Helm's SDK as a library) and lints it (strict,
     Kubernetes 1.30);
  2. validates every rendered manifest with `kubernetes-validate --strict -k 1.30.0`
     (Prometheus Operator kinds, which it has no schema for, get a check of their own here);
  3. compares the render with its reviewed golden file, helm/coinsence/ci/golden/<name>.yaml
     (COINSENCE_UPDATE_GOLDEN=1 rewrites them: review the diff);
  4. checks every container against the binary it runs: each `--flag` in its args exists for
     that subcommand, each environment variable it sets is one `coinsence` reads (an `[env: NAME]`
     of `coinsence <command> --help`, or a setting the code reads by name), and each required
     flag of the command has a value (in its args or its env).

Usage: chart_checks.py --bin path/to/coinsence
"""

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import helm_python
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "coinsence"
KUBERNETES = "1.30.0"
# Crates whose code runs in the binary: settings read by name (not through a flag) live there.
SOURCES = ["src", "api/src", "worker/src", "bots/src"]

failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL {what}", file=sys.stderr)


def command_help(binary, command):
    """The flags of `coinsence <command>`: {flag: env name or None}, and the required flags."""
    text = subprocess.run(
        [binary, command, "--help"], check=True, capture_output=True, text=True
    ).stdout
    flags, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^\s+(?:-\w, )?--([a-z0-9-]+)", line)
        if m:
            current = m.group(1)
            flags.setdefault(current, None)
        env = re.search(r"\[env: ([A-Z0-9_]+)(?:=[^\]]*)?\]", line)
        if env and current:
            flags[current] = env.group(1)
    usage = next(l for l in text.splitlines() if l.startswith("Usage:"))
    required = re.findall(r"(?<!\[)--([a-z0-9-]+) <", usage)
    return flags, required


def settings_read_by_name():
    """`COINSENCE_*` names the code reads outside clap (tunables such as COINSENCE_SPARE_ORGS)."""
    names = set()
    for d in SOURCES:
        for f in (ROOT / d).rglob("*.rs"):
            names.update(re.findall(r'"(COINSENCE_[A-Z0-9_]+)"', f.read_text()))
    return names


def render(values_file):
    values = yaml.safe_load(values_file.read_text()) or {}
    chart = helm_python.Chart.load(str(CHART))
    try:
        out = chart.render(values=values, name="coinsence", namespace="coinsence", is_install=True)
    finally:
        chart.close()
    report = helm_python.lint(str(CHART), values, strict=True, kube_version=f"v{KUBERNETES}")
    for m in report.get("messages", []):
        if m.get("severity", 0) >= 2:
            fail(f"{values_file.name}: lint: {m.get('path')}: {m.get('error')}")
    for e in report.get("errors", []):
        fail(f"{values_file.name}: lint: {e}")
    # One text per render, in template order, each part under its source.
    parts = []
    for path in sorted(out):
        body = re.sub(r"^---\s*\n", "", out[path].strip())
        if body:
            parts.append(f"# Source: {path}\n{body}\n")
    return "---\n".join(parts)


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def validate(name, text):
    docs = documents(text)
    plain = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump_all(plain, f)
        path = f.name
    try:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "--quiet",
             "-k", KUBERNETES, path],
            capture_output=True, text=True,
        )
    finally:
        os.unlink(path)
    if run.returncode != 0:
        fail(f"{name}: kubernetes-validate:\n{run.stdout}{run.stderr}")
    for d in docs:
        if d["kind"] == "ServiceMonitor":
            endpoints = d.get("spec", {}).get("endpoints") or []
            if not endpoints or not all(e.get("port") for e in endpoints):
                fail(f"{name}: ServiceMonitor {d['metadata']['name']} needs endpoints with a port")
    return docs


def golden(name, text):
    path = CHART / "ci" / "golden" / f"{name}.yaml"
    if os.environ.get("COINSENCE_UPDATE_GOLDEN") == "1":
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
        return
    if not path.exists():
        fail(f"{name}: no golden render {path.relative_to(ROOT)} (COINSENCE_UPDATE_GOLDEN=1)")
        return
    want = path.read_text()
    if want != text:
        diff = "".join(difflib.unified_diff(
            want.splitlines(True), text.splitlines(True), str(path.relative_to(ROOT)), "render"))
        fail(f"{name}: the render differs from its golden file "
             f"(COINSENCE_UPDATE_GOLDEN=1 to accept):\n{diff}")


def containers(doc):
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def check_commands(name, docs, commands, by_name):
    for d in docs:
        for c in containers(d):
            where = f"{name}: {d['kind']} {d['metadata']['name']} container {c['name']}"
            args = c.get("args", [])
            if not args or args[0] not in commands:
                fail(f"{where}: runs {args[:1]}, not a coinsence command this check knows")
                continue
            flags, required = commands[args[0]]
            known_env = {e for e in flags.values() if e}
            env = {e["name"] for e in c.get("env", [])}
            for a in args[1:]:
                flag = a[2:].split("=", 1)[0] if a.startswith("--") else None
                if flag and flag not in flags:
                    fail(f"{where}: `coinsence {args[0]}` has no --{flag}")
            for e in sorted(env - known_env - by_name):
                fail(f"{where}: sets {e}, which `coinsence {args[0]}` does not read")
            for r in required:
                given = any(a == f"--{r}" or a.startswith(f"--{r}=") for a in args)
                if not given and flags.get(r) not in env:
                    fail(f"{where}: required --{r} ({flags.get(r)}) has no value")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the built coinsence binary")
    args = parser.parse_args()
    commands = {c: command_help(args.bin, c) for c in ["serve", "worker", "bots", "migrate"]}
    by_name = settings_read_by_name()
    values_files = sorted((CHART / "ci").glob("*-values.yaml"))
    if not values_files:
        fail("no values files under helm/coinsence/ci/")
    for f in values_files:
        name = f.name.removesuffix("-values.yaml")
        text = render(f)
        docs = validate(name, text)
        golden(name, text)
        check_commands(name, docs, commands, by_name)
        print(f"chart {name}: {len(docs)} manifests rendered, linted, validated, compared")
    failed = len({f.split(":", 1)[0] for f in failures})
    print(f"chart checks: {len(values_files) - failed} passed, {failed} failed")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
