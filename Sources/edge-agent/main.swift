print("edge-agent: not yet")
