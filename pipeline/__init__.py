"""What the pipeline's stages share: typed params, the record schema, artifact names, I/O."""
