"""Lambda entry points: one module per function or small family, each importing only the stage
logic it calls, so a function's cold start loads its own stage and nothing else (template.yaml
names each handler as `nekt_peering.handlers.<module>.<function>`).

Every stage handler is a function of its event (the execution's data, settings included), so
`sam local invoke -e events/<stage>.json` runs it and the execution history shows what it used.
Empty on purpose: importing one entry module must not import the others.
"""
