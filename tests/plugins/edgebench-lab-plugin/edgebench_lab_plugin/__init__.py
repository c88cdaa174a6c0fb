"""A lab's edgebench plugin: a transport that runs the agent in a folder of the lab's
choosing, a format of ONNX Runtime's optimised graphs, and a meter that gives a constant power."""
