"""Lightning: a LightningModule and ``Trainer.fit`` for one epoch, logging and checkpoints off."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from workload import LR, MOMENTUM, Workload, torch_mlp

LABEL = "Lightning"
REQUIRES = ("lightning",)


def make_epoch(batch_size: int):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch_mlp()
            self.loss_fn = nn.CrossEntropyLoss()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return self.loss_fn(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=LR, momentum=MOMENTUM)

    module = Module()

    def epoch(data: Workload) -> float:
        trainer = L.Trainer(
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        loader = DataLoader(TensorDataset(data.x, data.y), batch_size=batch_size, shuffle=True)
        trainer.fit(module, loader)
        return float(trainer.callback_metrics.get("train_loss", float("nan")))

    return epoch
