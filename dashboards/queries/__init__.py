"""Plain query functions over the snapshot, one module per page; tests call them directly."""
