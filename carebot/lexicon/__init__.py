"""The findings vocabulary designers write (data/patterns/, measurements.yml): read by the NLU to find findings
and by the triage loader to check protocols against it. Below both, so neither imports the other's loaders.
"""
