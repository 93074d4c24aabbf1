#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_guest, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_guest
short_description: Fix a Xen guest root after a CentOS update (xsrescue guest fix)
description:
  - 'Runs C(xsrescue guest fix): kernels, /lib/tls, serial console, services, through the journal.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  host_kernel:
    description:
      - The kernel version the host boots for this guest (C(--host-kernel)).
    type: str
  domain_config:
    description:
      - The guest's Xen domain config file on the host (C(--domain-config)).
    type: path
  only:
    description:
      - Fix only these rules (C(--only), repeated).
    type: list
    elements: str
extends_documentation_fragment:
  - xsrescue.rescue.target
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Fix the guest root
  xsrescue.rescue.xsrescue_guest:
    disk: /srv/guests/web1.img
    domain_config: /etc/xen/web1
'''

RETURN = r'''
changed:
  description: Whether the task changed something (in check mode, whether it would).
  returned: always
  type: bool
msg:
  description: What happened, or the error xsrescue reported.
  returned: always
  type: str
rc:
  description: xsrescue's exit status (0; 1 failed; 2 invalid input; 3 refused; 4 problems remain).
  returned: always
  type: int
cmd:
  description: The xsrescue command line the module ran (in-process).
  returned: when a command ran
  type: list
  elements: str
op:
  description: The op applied (the last one when several), as in the command's JSON document.
  returned: always
  type: dict
ops:
  description: Every op applied, in apply order.
  returned: always
  type: list
  elements: dict
undo:
  description:
    - The command lines (argv lists) that undo what the task applied, in the order
      to run them (newest op first). Empty in check mode and when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["xsrescue", "journal", "undo", "1", "--disk", "/dev/sda", "--partition", "1", "--journal", "/mnt/rescue/host1.db"]]
stderr:
  description: xsrescue's log lines.
  returned: always
  type: str
document:
  description: The command's JSON document, as C(xsrescue ... --json) prints it.
  returned: when the command printed one
  type: dict
'''
