"""Event payload models, one module per subdomain.

Importing this package imports every module in it, so that each contract
defined there registers itself (``base.Event``): adding a module is all it
takes for the registry, the schema export and the codec to know its events.
"""

import importlib
import pkgutil

from shared_contracts.events.base import ContractDefinitionError, Event
from shared_contracts.events.diagnostics import ProbeSent
from shared_contracts.events.users import UserRegistered

for _module in pkgutil.iter_modules(__path__, f"{__name__}."):
    importlib.import_module(_module.name)

__all__ = ["ContractDefinitionError", "Event", "ProbeSent", "UserRegistered"]
