"""kcore's scheduler. Placement over a plain NumPy node table works on its own:

from kcore.scheduler import NodeTable, PodRequirements, place
"""

from kcore.scheduler.placement import Unschedulable, place, place_many
from kcore.scheduler.query import (
    PodRequirements,
    Profile,
    Requirement,
    SpreadConstraint,
    Toleration,
    TopologyTerm,
)
from kcore.scheduler.table import NodeTable

__all__ = [
    "NodeTable",
    "PodRequirements",
    "Profile",
    "Requirement",
    "SpreadConstraint",
    "Toleration",
    "TopologyTerm",
    "Unschedulable",
    "place",
    "place_many",
]
