"""Built-in plugins: registered through harness's own ``harness`` entry points, like any other plugin."""
