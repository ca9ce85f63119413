"""The training engine: tasks, budgets, the default trainer and the serial run loop."""
