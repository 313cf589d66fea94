"""The local platform as a release platform (`--target local`): publish, smoke-invoke, move
aliases and watch the new version's errors, through the state directory."""
