print("provisiond: not built yet")
