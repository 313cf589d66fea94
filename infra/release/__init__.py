"""The platform-neutral release engine: version/alias rules, plans, one executor.

`model` holds the rules (targets, history, limits), `plan` the frozen plans and their
planners, `engine` the one executor and printer, `platform` the protocol each platform
(`infra.local`, `infra.aws`) implements.
"""
