#!/usr/bin/python3
"""Parses a Prometheus text exposition (a file, or - for stdin) with prometheus_client's own
parser, the one Prometheus-compatible tooling trusts, and prints every sample as JSON:
[{"family", "type", "name", "labels", "value"}]. A file the parser rejects exits 1 with its
reason. Used by the tests of the agent's textfile and the fleet server's /metrics."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8").read()
try:
    samples = [
        {"family": family.name, "type": family.type, "name": sample.name, "labels": sample.labels, "value": sample.value}
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
except Exception as error:  # the parser raises ValueError and friends with the offending line
    print(f"not a valid exposition: {error}", file=sys.stderr)
    sys.exit(1)
json.dump(samples, sys.stdout)
