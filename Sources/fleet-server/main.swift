print("fleet-server: not yet")
