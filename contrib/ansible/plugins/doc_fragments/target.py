# -*- coding: utf-8 -*-
# Documentation only: the target options (the command's --root, --disk and
# --partition flags, with underscores).


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  root:
    description:
      - An already mounted offline root directory (C(--root)). Give I(root) or I(disk).
    type: path
  disk:
    description:
      - A disk image or block device (C(--disk)). It is read in-process for the
        plan; the partition is mounted read-write only to apply a change.
    type: path
  partition:
    description:
      - With I(disk), the partition number (C(--partition)); default the XenServer root.
    type: int
'''
