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

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
