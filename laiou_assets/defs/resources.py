import dagster as dg

from laiou_assets.resources import LandingZoneResource, WarehouseResource


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": WarehouseResource(), "landing": LandingZoneResource()})
