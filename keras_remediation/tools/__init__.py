"""Tools around the library: `tutorials_utils` holds the data and model helpers of the guides."""
