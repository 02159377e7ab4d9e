"""attribute/mexgen."""
