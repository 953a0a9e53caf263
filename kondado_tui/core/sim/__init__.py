"""A faithful simulator of Kondado's pipeline API (stdlib only, no Textual).

`SimWorld` is the account (pipelines living in virtual or real time); `SimServer`
serves it over real HTTP on loopback with the documented rate limits and injectable
faults. Used by `kondado-tui --demo`, `kondado-tui sim`, the tests and the benchmarks.
"""

from kondado_tui.core.sim.faults import FaultMode
from kondado_tui.core.sim.outside import OutsideConsumer
from kondado_tui.core.sim.ratelimit import RateLimits
from kondado_tui.core.sim.server import Outcome, RequestRecord, SimAccount, SimServer
from kondado_tui.core.sim.world import (
    DEMO_SPEED,
    DemoPipeline,
    PipelineSpec,
    Plan,
    SimWorld,
    Transition,
    UnknownPipeline,
    demo_pipelines,
)

__all__ = [
    "DEMO_SPEED",
    "DemoPipeline",
    "FaultMode",
    "Outcome",
    "OutsideConsumer",
    "PipelineSpec",
    "Plan",
    "RateLimits",
    "RequestRecord",
    "SimAccount",
    "SimServer",
    "SimWorld",
    "Transition",
    "UnknownPipeline",
    "demo_pipelines",
]
