"""One module per trainer. Each has ``LABEL``, ``REQUIRES`` (modules to import) and
``make_epoch(batch_size) -> epoch(workload)``, which trains one epoch over the workload it is given.
Building the trainer and a first warm-up epoch are not timed; the epoch after them is.
"""

PEERS = [
    "reference",
    "careful",
    "lightning_trainer",
    "skorch_net",
    "keras_fit",
    "sklearn_mlp",
    "mlpkit_step",
    "mlpkit_fit",
    "mlpkit_bf16",
    "mlpkit_compile",
]
