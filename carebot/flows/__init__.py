"""Flow view (issue 19): the rules, forms and triage protocols a designer edits, drawn as Graphviz diagrams."""
