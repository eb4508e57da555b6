pytest_plugins = ["runner.visible"]
