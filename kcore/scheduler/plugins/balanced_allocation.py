"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory use stay balanced after
placing the pod: `int((1 - std(fractions)) * 100)` over the configured resources (kernel score).
"""

from typing import Any

from kcore.scheduler.framework.interface import KernelPlugin

NAME = "NodeResourcesBalancedAllocation"


class BalancedAllocation(KernelPlugin):
    NAME = NAME
    POINTS = ()
    PROFILE_WEIGHT = "balanced_weight"

    def profile_fields(self, weight: int) -> dict[str, Any]:
        fields: dict[str, Any] = {"balanced_weight": weight}
        resources = self.args.get("resources")
        if resources:
            fields["balanced_resources"] = tuple(str(r["name"]) for r in resources)
        return fields


PLUGIN = BalancedAllocation
