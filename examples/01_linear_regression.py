"""Linear regression three ways, with the same result: tensors and autograd by hand, then
``nn.Linear`` with ``torch.optim.SGD``, then ``mlpkit.fit`` (reference chapter 001).

    python examples/01_linear_regression.py [--epochs 20] [--lr 0.1]
"""

import argparse

import torch
from torch import nn

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--lr", type=float, default=0.1, help="the chapter: 0.4 on its data")
args = parser.parse_args()

# The chapter standardises California housing by hand; prepare_data splits the bundled diabetes
# data and scales its features (and, when asked, its target), fitted on the training part only.
config = mlpkit.RunConfig(data=mlpkit.DataConfig(name="diabetes", scale_target=True))
prepared = mlpkit.prepare_data(config)
X_train, y_train = (torch.as_tensor(a) for a in prepared.train)
y_train = y_train.reshape(-1, 1)  # a column, as the predictions are
n_features = X_train.shape[1]

# 1. By hand. w and b require gradients, so autograd records what is computed from them; the
# step runs under no_grad so that the update itself is not recorded, and the gradients are
# zeroed after it (backward adds to them).
torch.manual_seed(42)
w = torch.randn((n_features, 1), requires_grad=True)
b = torch.tensor(0.0, requires_grad=True)
w_start = w.detach().clone()
for epoch in range(args.epochs):
    loss = ((X_train @ w + b - y_train) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        b -= args.lr * b.grad
        w -= args.lr * w.grad
        b.grad.zero_()
        w.grad.zero_()
    print(f"epoch {epoch + 1}/{args.epochs}, loss {loss.item():.4f}")


def start_like_by_hand(linear: nn.Linear) -> None:
    """The by-hand starting point (nn.Linear draws its own, from another distribution)."""
    with torch.no_grad():
        linear.weight.copy_(w_start.T)  # nn.Linear keeps one row per output
        linear.bias.zero_()


# 2. The high-level API: a module, a criterion and an optimizer doing the two update lines.
linear = nn.Linear(n_features, 1)
start_like_by_hand(linear)
optimizer = torch.optim.SGD(linear.parameters(), lr=args.lr)
mse = nn.MSELoss()
for _ in range(args.epochs):
    loss = mse(linear(X_train), y_train)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

# 3. mlpkit: an MLP without hidden layers is linear regression; one batch of the whole training
# set makes each epoch one step of batch gradient descent, as above.
model = mlpkit.MLP(n_features, hidden=[], out_features=1)
start_like_by_hand(model[0])
history = mlpkit.fit(
    model, "mse", prepared.train,
    epochs=args.epochs, batch_size=len(X_train), optimizer="sgd", lr=args.lr,
)  # fmt: skip

with torch.no_grad():
    by_hand = torch.cat([w.T, b.reshape(1, 1)], dim=1)
    with_linear = torch.cat([linear.weight, linear.bias.reshape(1, 1)], dim=1)
    with_mlpkit = torch.cat([model[0].weight, model[0].bias.reshape(1, 1)], dim=1)
print(f"nn.Linear differs from the by-hand weights by {(with_linear - by_hand).abs().max():.2e}")
print(f"mlpkit.fit differs from the by-hand weights by {(with_mlpkit - by_hand).abs().max():.2e}")
print(history[["epoch", "train_loss"]].tail(3).to_string(index=False))

# Predictions for new rows, without recording a graph (less memory, faster).
X_new = torch.as_tensor(prepared.test[0][:3])
with torch.no_grad():
    print("by hand:", (X_new @ w + b).reshape(-1).tolist())
print("mlpkit: ", mlpkit.predict(model, X_new).values.reshape(-1).tolist())
test = mlpkit.evaluate(model, prepared.test, ["mse"])
print(f"test mse {test['mse']:.4f} (standardised target)")
