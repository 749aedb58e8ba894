"""A Flower App that trains the UCI Adult income model federated, with MinDiff."""
