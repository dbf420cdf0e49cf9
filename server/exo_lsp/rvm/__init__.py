"""RVM target: instructions and memories for schedules, plus compile & simulate."""

from .isa import *  # noqa: F401,F403
from .isa import __all__
