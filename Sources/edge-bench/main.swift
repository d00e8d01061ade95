print("edge-bench: not yet")
