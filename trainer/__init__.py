"""trainer: data sets, the model zoo, the training loop and the results table."""
