"""RecordSweepFunction: the health sweep's last stage, the connected connections counted by health into
CloudWatch (namespace NektPeering, metric Connections, dimensions Stack and Health), which the template's alarm
watches."""

from __future__ import annotations

import os

from nekt_peering.core.aws import client, database_session
from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import store, sweep

NAMESPACE = "NektPeering"
METRIC = "Connections"
STACK_ENVIRONMENT = "STACK_NAME"


@stage
def record_sweep(event: Event) -> dict[str, int]:
    """The counts, as put."""
    settings = Settings.parse(event.get("settings"))
    counts = sweep.health_counts(registry_dynamodb(settings), store.table_name())
    stack = os.environ[STACK_ENVIRONMENT]
    client(database_session(settings.stack_region), "cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": METRIC, "Dimensions": [{"Name": "Stack", "Value": stack}, {"Name": "Health", "Value": health}],
         "Value": count, "Unit": "Count"} for health, count in counts.items()])
    return counts
