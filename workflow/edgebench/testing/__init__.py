"""Testing support, shipped so that tests and benchmarks/ can use it: nothing in the workflow
imports it. `boards` starts real OpenSSH servers that play boards; `project` makes scratch
copies of a project folder to run the real workflow in."""
