"""自动构建 / the sensor that evaluates the models' automation conditions (conditions.py) every 30 seconds."""

import dagster as dg

from laiou_assets import settings
from laiou_assets.keys import KIND_TAG

laiou_automation = dg.AutomationConditionSensorDefinition(
    "laiou_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    run_tags={KIND_TAG: "build"},
    minimum_interval_seconds=settings.sensor_interval("automation"),
    description=(
        "自动构建 / builds the dbt models and the monthly tax facts when what they read was updated (a month "
        "loaded, a model rebuilt), never over a month whose delivery failed or whose ERROR check failed; a "
        "corrected delivery resolves it and the build follows (laiou_assets/defs/automation/conditions.py)."
    ),
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[laiou_automation])
