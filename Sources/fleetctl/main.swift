print("fleetctl: not built yet")
