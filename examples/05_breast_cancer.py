"""Breast cancer (scikit-learn's bundled set): an MLP trained on 80% of the rows, tested on the
other 20%, as scikit-learn estimators are (reference chapter 000, exercises).

``mlpkit.MLPClassifier`` takes ``mlpkit train``'s settings as parameters and standardises the
features itself, so it goes wherever a scikit-learn classifier goes. The same split from the
command line: ``mlpkit train --data breast_cancer --test-fraction 0.2 --val-fraction 0``.

    python examples/05_breast_cancer.py [--epochs 30]
"""

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)

clf = mlpkit.MLPClassifier(
    hidden=(30, 30), activation="tanh", epochs=args.epochs, lr=0.001, label_smoothing=0.0
)
clf.fit(X_train, y_train)

print(f"trained on {len(y_train)} rows, tested on {len(y_test)}")
print(f"test accuracy {accuracy_score(y_test, clf.predict(X_test)):.3f}")
print(f"test ROC AUC  {roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]):.3f}")
print(clf.history_[["epoch", "train_loss"]].tail(3).to_string(index=False))
