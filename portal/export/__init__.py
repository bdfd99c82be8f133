"""Court exports: self-verifying evidence bundles with a custody report and CASE/UCO provenance.

`verify.py` needs only the standard library, `cryptography` and `portal.custody`'s offline
modules, so importing it (and this package) stays light for an expert's machine.
"""
