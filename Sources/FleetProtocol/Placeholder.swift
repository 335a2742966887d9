// Placeholder until the owning issue lands.
