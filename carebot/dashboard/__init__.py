"""The clinic dashboard: figures of a period from the tracker store and the backend database (docs/dashboard.md)."""
