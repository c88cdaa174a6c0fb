"""Getting a run onto a device and its raw results back: staging, transports, dispatch."""
