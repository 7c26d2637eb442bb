"""Lambda entry points: one module per function, each importing only the stage logic it calls, so a
function's cold start loads its own stage and path and nothing else (template.yaml names each handler as
`nekt_peering.handlers.<function>.<function>`). `stage` and `locks` are what they share.

Every stage handler is a function of its event (the execution's data, settings included), so
`sam local invoke -e events/<stage>.json` runs it and the execution history shows what it used.
Empty on purpose: importing one entry module must not import the others.
"""
