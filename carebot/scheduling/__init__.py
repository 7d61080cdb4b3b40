"""Scheduling: the embedded FHIR R4 scheduling service (tables, slot generation, HTTP API) and its async client.

The client (`carebot.scheduling.client`) speaks plain FHIR R4 REST, so a clinic can point it at its own FHIR server.
"""
