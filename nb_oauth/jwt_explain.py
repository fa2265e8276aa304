"""``nb_oauth.jwt_explain.explain(jwt)``: kept at this address for notebooks that import it; the code is in
:mod:`nb_oauth.display.jwt_explain`."""

from .display.jwt_explain import *  # noqa: F403
from .display.jwt_explain import __all__ as __all__
