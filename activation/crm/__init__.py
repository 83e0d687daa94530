"""CRM adapters behind one interface (`base.Crm`): HubSpot today."""

from activation.crm.base import Crm, CrmError

__all__ = ["Crm", "CrmError"]
