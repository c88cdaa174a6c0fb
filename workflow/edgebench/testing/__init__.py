"""Test equipment, shipped so that tests and benchmarks/ can use it and a user may run it too:
nothing in the workflow imports it. `boards` starts real OpenSSH servers that play boards;
`meters` plays serial power meters on pseudo-terminals; `mcu_emulator` is an MLPerf Tiny board
on a pseudo-terminal running a real int8 model (`python -m edgebench.testing.mcu_emulator`);
`slurm` starts a one-node SLURM cluster; `project` makes scratch copies of a project folder to
run the real workflow in."""
