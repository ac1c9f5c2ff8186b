#!/usr/bin/env python3
"""Fails on any Zuul job whose secrets reach no playbook.

Zuul binds a job's secrets only to the playbooks (pre-run, run, post-run) that the same job
declares, unless a secret says `pass-to-parent: true`, which also hands it to the parents'
playbooks. A secret on a job that inherits all of its playbooks is therefore silently
undefined at run time (`{{ cloud.clouds_yaml }}` fails only on the real tenant).

usage: zuul-secrets.py FILE...   (exit 1 and one line per problem)
"""
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


# `!encrypted/pkcs1-oaep` and other Zuul tags: their values do not matter here.
Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

PLAYBOOK_KEYS = ("pre-run", "run", "post-run", "cleanup-run")


def main(paths):
    jobs = {}  # name -> list of variants (Zuul merges same-name definitions)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for item in yaml.load(f, Loader=Loader) or []:
                if isinstance(item, dict) and "job" in item:
                    job = item["job"]
                    jobs.setdefault(job["name"], []).append((path, job))

    def has_playbooks(name):
        return any(any(j.get(k) for k in PLAYBOOK_KEYS) for _, j in jobs.get(name, []))

    def parent_of(name):
        for _, j in jobs.get(name, []):
            if "parent" in j:
                return j["parent"]
        return None

    def ancestors_have_playbooks(name):
        seen = set()
        parent = parent_of(name)
        while parent and parent not in seen:
            seen.add(parent)
            if parent not in jobs:
                return True  # defined elsewhere (e.g. `base`): assume it runs playbooks
            if has_playbooks(parent):
                return True
            parent = parent_of(parent)
        return False

    problems = []
    for name, variants in sorted(jobs.items()):
        for path, job in variants:
            for secret in job.get("secrets") or []:
                entry = secret if isinstance(secret, dict) else {"name": secret, "secret": secret}
                if has_playbooks(name):
                    continue
                if entry.get("pass-to-parent") and ancestors_have_playbooks(name):
                    continue
                problems.append(
                    f"{path}: job `{name}`: secret `{entry.get('name')}` reaches no playbook: "
                    "the job declares no pre-run/run/post-run of its own and a secret is bound "
                    "only to the declaring job's playbooks; give the job its own `run:` or set "
                    "`pass-to-parent: true` on the secret"
                )
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
