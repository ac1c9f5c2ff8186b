#!/usr/bin/env python3
"""Fails on a catalog-repository job that would build from the catalog repository itself.

A separate catalog repository (catalog/ + state/, no Rust code) runs the tool repository's
jobs; `pre.yaml` builds the tool from `image_crawler_source_project`, which only the
catalog base job (`required-projects` + that variable) provides. A job without it in its
parent chain runs `cargo build` in the catalog checkout and fails only on the real tenant.

Checked: every job of the project-template named on the command line, and every job in a
`project` stanza of the YAML examples in the docs files that uses such a template (jobs the
example itself defines count, as a catalog repository defines them). Also: a template job
holds no secret anywhere in its chain (a secret is usable only by jobs of its own project, so
a tool-repository secret cannot serve a catalog repository), and an example job's secret
reaches the inherited playbooks (`pass-to-parent: true`).

usage: zuul-catalog.py ZUUL_YAML TEMPLATE [DOC.md...]   (exit 1 and one line per problem)
"""
import re
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

SOURCE_VAR = "image_crawler_source_project"


def job_names(pipeline):
    for entry in (pipeline or {}).get("jobs") or []:
        yield next(iter(entry)) if isinstance(entry, dict) else entry


def main(zuul_yaml, template, docs):
    with open(zuul_yaml, encoding="utf-8") as f:
        items = yaml.load(f, Loader=Loader) or []
    jobs = {i["job"]["name"]: i["job"] for i in items if isinstance(i, dict) and "job" in i}
    templates = {
        i["project-template"]["name"]: i["project-template"]
        for i in items
        if isinstance(i, dict) and "project-template" in i
    }
    problems = []
    examples = []  # (doc, project stanza)
    for doc in docs:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            for item in yaml.load(block, Loader=Loader) or []:
                if not isinstance(item, dict):
                    continue
                if "job" in item:
                    job = item["job"]
                    jobs.setdefault(job["name"], job)
                    for secret in job.get("secrets") or []:
                        own = any(job.get(k) for k in ("pre-run", "run", "post-run"))
                        if not own and not (isinstance(secret, dict) and secret.get("pass-to-parent")):
                            problems.append(
                                f"{doc}: example job `{job['name']}`: its secret reaches no "
                                "playbook (no `run:` of its own and no `pass-to-parent: true`)"
                            )
                project = item.get("project")
                if project and template in (project.get("templates") or []):
                    examples.append((doc, project))

    def secret_in_chain(name):
        seen = set()
        while name and name not in seen and name in jobs:
            seen.add(name)
            if jobs[name].get("secrets"):
                return name
            name = jobs[name].get("parent")
        return None

    def has_catalog_base(name):
        """The chain supplies the tool repository as a required project and names it."""
        seen, required, source = set(), False, False
        while name and name not in seen and name in jobs:
            seen.add(name)
            job = jobs[name]
            for rp in job.get("required-projects") or []:
                rp_name = rp.get("name") if isinstance(rp, dict) else rp
                if rp_name == (job.get("vars") or {}).get(SOURCE_VAR, rp_name):
                    required = True
            source = source or SOURCE_VAR in (job.get("vars") or {})
            name = job.get("parent")
        return required and source

    def check(where, name):
        if name not in jobs:
            problems.append(f"{where}: job `{name}` is not defined in {zuul_yaml}")
        elif not has_catalog_base(name):
            problems.append(
                f"{where}: job `{name}` has no `required-projects` + `{SOURCE_VAR}` in its "
                "parent chain, so pre.yaml would build from the catalog repository itself; "
                "use a job whose parent is the catalog base job"
            )

    tpl = templates.get(template)
    if tpl is None:
        problems.append(f"{zuul_yaml}: no project-template `{template}`")
    else:
        for pipeline, body in sorted(tpl.items()):
            if isinstance(body, dict):
                for name in job_names(body):
                    where = f"{zuul_yaml}: project-template `{template}` {pipeline}"
                    check(where, name)
                    holder = secret_in_chain(name)
                    if holder:
                        problems.append(
                            f"{where}: job `{name}` gets a secret from `{holder}`: a secret "
                            "serves only jobs of its own project, so a catalog repository "
                            "must supply its own (a child job with `pass-to-parent: true`)"
                        )

    for doc, project in examples:
        for pipeline, body in sorted(project.items()):
            if isinstance(body, dict):
                for name in job_names(body):
                    check(f"{doc}: example project using `{template}` {pipeline}", name)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
