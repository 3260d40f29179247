"""Validates FHIR R4 resources with fhir.resources (an independent implementation of
the specification's models): every element known, required ones present, every
primitive in its format, one choice of each [x], codes of required bindings.

Reads one JSON resource per line on stdin; prints one line per resource, `ok` or
`invalid: <why>`, and exits 0 when all are valid."""

import json
import sys

from fhir.resources import construct_fhir_element

failed = 0
for n, line in enumerate(sys.stdin, 1):
    line = line.strip()
    if not line:
        continue
    try:
        resource = json.loads(line)
        construct_fhir_element(resource["resourceType"], resource)
        print("ok")
    except Exception as e:  # the validator's own message is the point
        failed += 1
        print("invalid: resource %d: %s" % (n, " ".join(str(e).split())))
sys.exit(1 if failed else 0)
