"""HubSpot-compatible CRM API: api.py (edges, routes) over endpoint groups (owners, objects, object_writes,
properties, lists), the object model (object_types, schema, values, model), search and the CRM write store."""
