"""The tracer: a plain PyTorch function run on symbolic tensors, giving a term over named axes."""
