#!/usr/bin/env python3
"""Runs tests/fixtures/clouds/cases.yaml against the real openstacksdk (as the `openstack` CLI
uses it: --os-region-name defaults to OS_REGION_NAME) and reports, per case, whether the SDK
does what the case's `sdk` says. Needs openstacksdk (e.g. python3 -m venv /tmp/sdk-venv &&
/tmp/sdk-venv/bin/pip install openstacksdk); no network.

    /tmp/sdk-venv/bin/python tests/openstack/sdk-compare.py
Exit 0 when every case agrees with its `sdk` field."""
import json, os, subprocess, sys, tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "fixtures", "clouds", "cases.yaml")

# Runs in a child with HOME, cwd and the variables of the case, so the SDK's import-time
# search list is the case's; /etc is redirected into the scratch root.
CHILD = r'''
import json, os, sys, warnings
warnings.simplefilter("ignore")
root, cloud, region = sys.argv[1], sys.argv[2] or None, sys.argv[3] or None
from openstack.config import loader
for name in ("CONFIG_FILES", "SECURE_FILES", "VENDOR_FILES"):
    setattr(loader, name, [p.replace("/etc/", root + "/etc/", 1) if p.startswith("/etc/") else p
                           for p in getattr(loader, name)])
region = region or os.environ.get("OS_REGION_NAME")  # the CLI's --os-region-name default
try:
    c = loader.OpenStackConfig()
    kw = {"region_name": region} if region else {}
    cr = c.get_one(cloud=cloud, **kw)
    verify, _ = cr.get_requests_verify_args()
    if verify is True:  # what requests then does
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
    elif verify is False:
        verify = "insecure"
    f = c.config_filename
    out = {
        "file": os.path.relpath(f, root) if f else None,
        "auth_url": (cr.config["auth"].get("auth_url") or "").rstrip("/"),
        "region": cr.get_region_name("image") or None,
        "interface": cr.get_interface("image"),
        "endpoint": (cr.get_endpoint("image") or "").rstrip("/") or None,
        "ca": verify,
        "password": bool(cr.config["auth"].get("password")),
    }
except Exception as e:
    out = {"error": "%s: %s" % (type(e).__name__, e)}
print(json.dumps(out))
'''


def run(case):
    with tempfile.TemporaryDirectory() as root:
        for d in ("cwd", "home"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        for rel, text in (case.get("files") or {}).items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "XDG_")) and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        env["HOME"] = os.path.join(root, "home")
        for k, v in (case.get("env") or {}).items():
            env[k] = v.replace("$ROOT", root)
        cloud = case.get("cloud") or env.get("OS_CLOUD") or ""
        r = subprocess.run([sys.executable, "-c", CHILD, root, cloud, case.get("region") or ""],
                           cwd=os.path.join(root, "cwd"), env=env, capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": r.stderr.strip().splitlines()[-1]}
        return json.loads(r.stdout)


def main():
    with open(CASES) as f:
        cases = yaml.safe_load(f)
    bad = 0
    for case in cases:
        got = run(case)
        sdk = case["sdk"]
        want = case["expect"] if sdk == "same" else sdk
        if "error" in want:
            ok = "error" in got
        else:
            ok = "error" not in got and all(got.get(k) == v for k, v in want.items())
        verdict = ("same  " if sdk == "same" else "differ") if ok else "WRONG "
        bad += not ok
        print(f"{verdict} {case['name']}" + ("" if ok else f"\n       sdk gave {got}, table says {want}"))
    same = sum(1 for c in cases if c["sdk"] == "same")
    print(f"\n{len(cases)} cases: {same} resolve as the SDK does, {len(cases) - same} differ on purpose (or both refuse); {bad} table entries wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
