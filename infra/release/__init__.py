"""The platform-neutral release engine: version/alias rules, plans, one executor, one renderer.

`model` holds the rules (targets, history, limits), `plan` the frozen plans and their
planners, `steps` what a plan does, `engine` the one executor, `render` the one printer of a
plan (`--dry-run`), `platform` the protocol each platform (`infra.local`, `infra.aws`,
`infra.cloudrun`) implements.
"""
