"""vgan_utils: the code a GAN-for-video course builds in its notebooks, kept in one place.

Each module holds one concept and names the notebook that teaches it.
"""

from .profiles import PROFILES, Profile, resolve_profile
from .runtime import Session, pick_device, seed_everything, setup

__all__ = ["PROFILES", "Profile", "Session", "pick_device", "resolve_profile", "seed_everything",
           "setup"]
__version__ = "0.1.0"
