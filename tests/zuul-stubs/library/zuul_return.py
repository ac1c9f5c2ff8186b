#!/usr/bin/python
# A stand-in for Zuul's `zuul_return` (an executor-side action in Zuul, absent from plain
# Ansible), used only by .ci/zuul-check.sh: it lets the playbooks lint and run outside Zuul,
# and appends what they would return to $ZUUL_RETURN_FILE so the test can check it.
import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"data": {"type": "dict", "required": True}})
    path = os.environ.get("ZUUL_RETURN_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(module.params["data"]) + "\n")
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
