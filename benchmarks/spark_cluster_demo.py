"""Score a locality's policy (a plugin) on a standalone Spark cluster, and check the
result against local batch on the driver."""
import datetime as dt
import importlib.metadata
import socket
import sys

from polars.testing import assert_frame_equal

import civicscore
from civicscore import spark

policy_name, source, day, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
as_of = dt.date.fromisoformat(day)
session = spark.session()  # the session spark-submit made (its --master)
print("master:", session.sparkContext.master)

def where(_: object) -> list[str]:  # on an executor: its host, Python, civicscore plugins
    import civicscore as c
    eps = sorted(ep.name for ep in importlib.metadata.entry_points(group="civicscore"))
    return [f"{socket.gethostname()} {sys.executable} civicscore from {c.__file__} "
            f"plugins {eps}"]

print("executor:", session.sparkContext.parallelize([0], 1).mapPartitions(where).collect()[0])
policy = civicscore.load(policy_name)
print("policy:", policy.ref.id, policy.ref.version, policy.ref.hash[:12])
remote = spark.score(policy, "visits", source, as_of=as_of, partitions=partitions)
local = policy.visits.batch(source, as_of=as_of)
for kind in ("output", "details", "rejected"):
    assert_frame_equal(getattr(local, kind), getattr(remote, kind), check_exact=True)
print("equal to local batch: output", remote.output.shape, "details", remote.details.shape,
      "rejected", remote.rejected.shape)
print(remote.summary())
session.stop()
