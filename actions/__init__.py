"""Carebot's custom actions: thin rasa-sdk glue over the `carebot` package, one module per flow."""
